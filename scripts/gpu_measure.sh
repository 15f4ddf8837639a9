#!/usr/bin/env bash
# Run ON THE GPU MACHINE: the GPU measurements behind bench/results/*_cuda_*.json, in stages that
# fit one device call each (a call is capped at 10 minutes):
#   scripts/gpu_measure.sh OUTDIR STAGE...
# Stages: build (scripts/gpu_build.sh, then copies the binary to OUTDIR so later calls can carry
# it in .carry/bin/), bench (U-Net step time per mode at 128^3), memory-fp32, memory-bf16 (the
# 16 GiB searches of issue 3), large (configs/large.json at 128^3 per mode), train (paper model, bf16, 128^3, reversible vs plain on synthetic
# cases), predict (one 240x240x155 case), compare-unet4 and compare-paper (revunet against its
# PyTorch twin, python/revunet_torch, side by side at 128^3: bench/compare_pytorch.sh; the python3
# on the PATH must have torch), plan-unet4 and plan-paper (issue 12's per-stage mode plans:
# unet4 fp32 at 128^3 under 16 GiB, target planned step <= 1.15x all plain's; unet4 at 216^3, the
# largest cube only all reversible fits, target all reversible; the paper config bf16 at 128^3
# under half its all-plain peak, target <= 1.15x all plain). A stage's JSON goes to
# OUTDIR/<name>.json.
set -uo pipefail
cd "$(dirname "$0")/.."
OUTDIR=$1
shift
mkdir -p "$OUTDIR"
PREFIX=/tmp/revunet-debs
BIN=build-cuda/revunet
[ -x .carry/bin/revunet ] && BIN=.carry/bin/revunet
export REVUNET_GIT_REVISION=$(cat .carry/git_revision 2>/dev/null || echo unknown)
# PyTorch >= 2.5 wheels clash with the system std::filesystem (docs/gpu.md).
export LD_PRELOAD=$(g++ -print-file-name=libstdc++.so.6)
export PYTHONUNBUFFERED=1
START=$SECONDS
left() { echo $((${REVUNET_CALL_SECONDS:-570} - (SECONDS - START))); }
step() { echo "=== [$((SECONDS - START)) s] $*"; }

unpack_debs() {
  mkdir -p "$PREFIX"
  for deb in .carry/debs/*.deb; do dpkg -x "$deb" "$PREFIX"; done
  export LD_LIBRARY_PATH="$PREFIX/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
}

memory() {  # memory DTYPE: the unet4 searches under 16 GiB, with the whole-volume BraTS scale
  local budget=$(($(left) - 25))
  step "memory $1 (time limit ${budget} s)"
  "$BIN" memory --config configs/unet4.json --device cuda --budget 16GiB --dtype "$1" --shape \
    --max-couplings 32 --time-limit "$budget" --json "$OUTDIR/memory_unet4_cuda_$1.json"
}

unpack_debs
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
for stage in "$@"; do
  case $stage in
    build)
      step build
      scripts/gpu_build.sh build-cuda revunet >"$OUTDIR/build.log" 2>&1 || { tail -40 "$OUTDIR/build.log"; exit 1; }
      BIN=build-cuda/revunet
      strip -o "$OUTDIR/revunet" "$BIN"
      ;;
    bench)
      for dtype in fp32 bf16; do
        step "bench unet4 $dtype"
        "$BIN" bench unet --config configs/unet4.json --device cuda --dtype $dtype --edges 128 \
          --warmup 3 --repeats 10 --json "$OUTDIR/unet_bench_unet4_cuda_$dtype.json"
      done
      step "bench paper bf16"
      "$BIN" bench unet --config configs/paper.json --device cuda --dtype bf16 --edges 128 \
        --warmup 3 --repeats 10 --json "$OUTDIR/unet_bench_paper_cuda_bf16.json"
      ;;
    large)
      step "bench large fp32"
      "$BIN" bench unet --config configs/large.json --device cuda --dtype fp32 --edges 128 \
        --modes reversible,checkpoint,plain --warmup 2 --repeats 5 \
        --json "$OUTDIR/unet_bench_large_cuda_fp32.json"
      ;;
    memory-fp32) memory fp32 ;;
    memory-bf16) memory bf16 ;;
    train)
      step "synth"
      "$BIN" synth --out /tmp/synth --cases 4 --anatomy procedural --seed 7
      for mode in reversible plain; do
        step "train paper $mode"
        "$BIN" train --config configs/paper.json --data /tmp/synth --out /tmp/run-$mode \
          --device cuda --bf16 --mode $mode --epochs 2 --iterations-per-epoch 20 --batch 2 \
          --val-fraction 0 --workers 4 --cache /tmp/cache
        cp /tmp/run-$mode/metrics.jsonl "$OUTDIR/train_paper_cuda_bf16_$mode.jsonl"
      done
      ;;
    predict)
      step "predict"
      id=$(ls /tmp/synth | head -1)
      "$BIN" predict --model /tmp/run-reversible/model.pt --in /tmp/synth --ids "$id" \
        --out /tmp/pred --device cuda --overwrite --json "$OUTDIR/predict_paper_cuda.json"
      ;;
    compare-unet4)
      step "compare unet4 fp32 + bf16 with the PyTorch twin"
      bench/compare_pytorch.sh --bin "$BIN" --device cuda --configs configs/unet4.json \
        --dtypes fp32,bf16 --edges 128 --warmup 3 --repeats 5 --rounds 2 \
        --out "$OUTDIR/compare_pytorch_unet4_cuda.json"
      ;;
    compare-paper)
      step "compare paper bf16 with the PyTorch twin"
      bench/compare_pytorch.sh --bin "$BIN" --device cuda --configs configs/paper.json \
        --dtypes bf16 --edges 128 --warmup 3 --repeats 5 --rounds 2 \
        --out "$OUTDIR/compare_pytorch_paper_cuda.json"
      ;;
    plan-unet4)
      step "plan unet4 fp32 128^3 under 16 GiB"
      "$BIN" plan --config configs/unet4.json --device cuda --budget 16GiB --edge 128 \
        --warmup 2 --repeats 5 --json "$OUTDIR/plan_unet4_cuda_fp32_128_16GiB.json"
      step "plan unet4 fp32 216^3 under 16 GiB (only all reversible fits)"
      "$BIN" plan --config configs/unet4.json --device cuda --budget 16GiB --edge 216 \
        --warmup 1 --repeats 2 --json "$OUTDIR/plan_unet4_cuda_fp32_216_16GiB.json"
      ;;
    plan-paper)
      step "plan paper bf16 128^3, the whole GPU (gives all plain's peak)"
      "$BIN" plan --config configs/paper.json --device cuda --dtype bf16 --edge 128 \
        --warmup 2 --repeats 5 --json "$OUTDIR/plan_paper_cuda_bf16_128_whole.json"
      half=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["all_plain"]["peak_bytes"] // 2)' \
        "$OUTDIR/plan_paper_cuda_bf16_128_whole.json")
      step "plan paper bf16 128^3 under half of all plain's peak ($half bytes)"
      "$BIN" plan --config configs/paper.json --device cuda --dtype bf16 --edge 128 \
        --budget "$half" --warmup 2 --repeats 5 --json "$OUTDIR/plan_paper_cuda_bf16_128_half.json"
      ;;
    *) echo "unknown stage $stage"; exit 2 ;;
  esac
done
step done
