#!/usr/bin/env bash
# revunet against the same network in PyTorch (python/revunet_torch), side by side in one run:
# step time and peak memory per mode, both sides interleaved, the ratios in one JSON
# (bench/compare_pytorch.py --help has every option; docs/pytorch.md explains the result).
#   CPU, here:  bench/compare_pytorch.sh --configs configs/tiny.json,configs/unet4.json \
#                 --edges 32 --threads 2 --out bench/results/compare_pytorch_cpu.json
#   GPU:        scripts/gpu_measure.sh OUTDIR compare-unet4 compare-paper
# The Python is $REVUNET_PYTHON, else the first of python3 on the PATH and /usr/bin/python3 (Debian's
# python3-torch) that has torch.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${REVUNET_PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3 /usr/bin/python3; do
    if "$candidate" -c 'import torch' 2>/dev/null; then PYTHON=$candidate; break; fi
  done
fi
[ -n "$PYTHON" ] || { echo "compare_pytorch.sh: no python3 with torch (apt-get install python3-torch, or set REVUNET_PYTHON)" >&2; exit 2; }
exec "$PYTHON" bench/compare_pytorch.py "$@"
