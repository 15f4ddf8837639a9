#!/usr/bin/env bash
# Run HERE (Debian 12, with a package registry): downloads the Debian packages that a GPU machine
# without a registry lacks into .carry/debs/ (git-ignored). Carry that folder to the GPU machine
# and run scripts/gpu_build.sh there.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .carry/debs
cd .carry/debs
apt-get download libnifti2-dev libnifti2-2 libniftiio2 libniftiio-dev libnifticdf2 \
  libnifticdf-dev libznz3 libznz-dev nlohmann-json3-dev libgtest-dev googletest libcli11-dev
ls -1 "$PWD"
