#!/usr/bin/env bash
# Issue 12's comparisons on CPU at small sizes (bytes from the tracking allocator; step times on a
# shared CPU are noisy), written to bench/results/plan_cpu_*.json:
#   bench/plan_cpu.sh [PATH/TO/revunet]      (default build/revunet; run from the repository root)
# Per shipped config at a small cube: a plan under a budget no step reaches (all plain, and both
# whole-network peaks), then the GPU targets' analogues scaled to that config's own measured peaks:
#   unet4 at 32^3 under 7/8 of all plain's peak (16 GiB vs 18.3 GiB on the H100 at 128^3),
#   paper at 32^3 under half its all-plain peak,
#   unet4 at 32^3 under exactly all reversible's peak (the cube only all reversible fits),
#   every config's per-stage table (docs/memory.md) from its unbounded plan.
set -euo pipefail
BIN=${1:-build/revunet}
OUT=bench/results
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
common=(--device cpu --warmup 1 --repeats 3 --threads "$OMP_NUM_THREADS")
peak() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["peak_bytes"])' "$@"; }

for config in tiny unet4 paper large; do
  edge=32
  "$BIN" plan --config configs/$config.json --edge $edge --budget 1TiB "${common[@]}" \
    --json "$OUT/plan_cpu_${config}_${edge}_unbounded.json"
done
plain=$(peak "$OUT/plan_cpu_unet4_32_unbounded.json" all_plain)
"$BIN" plan --config configs/unet4.json --edge 32 --budget $((plain * 7 / 8)) "${common[@]}" \
  --json "$OUT/plan_cpu_unet4_32_seven_eighths_of_plain.json"
reversible=$(peak "$OUT/plan_cpu_unet4_32_unbounded.json" all_reversible)
"$BIN" plan --config configs/unet4.json --edge 32 --budget "$reversible" "${common[@]}" \
  --json "$OUT/plan_cpu_unet4_32_at_reversible.json"
plain=$(peak "$OUT/plan_cpu_paper_32_unbounded.json" all_plain)
"$BIN" plan --config configs/paper.json --edge 32 --budget $((plain / 2)) "${common[@]}" \
  --json "$OUT/plan_cpu_paper_32_half_of_plain.json"
