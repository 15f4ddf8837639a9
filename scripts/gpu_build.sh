#!/usr/bin/env bash
# Run ON THE GPU MACHINE (no package registry, PyTorch 2.x with CUDA installed): unpacks the
# carried .debs into a private prefix and builds revunet against PyTorch's LibTorch.
#   scripts/gpu_build.sh [build-dir]     (default build-cuda)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-cuda}
shift || true  # further arguments: targets to build (default: all)
PREFIX=${REVUNET_DEB_PREFIX:-/tmp/revunet-debs}
mkdir -p "$PREFIX"
for deb in .carry/debs/*.deb; do dpkg -x "$deb" "$PREFIX"; done
export LD_LIBRARY_PATH="$PREFIX/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$PREFIX/usr" \
  -DCMAKE_LIBRARY_ARCHITECTURE=x86_64-linux-gnu \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DTORCH_CUDA_ARCH_LIST=9.0
# -k 0: build every target that can be built, so one broken file does not hide the rest.
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$BUILD" -j "$(nproc)" "${targets[@]}" -- -k 0
