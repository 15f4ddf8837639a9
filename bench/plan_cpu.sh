#!/usr/bin/env bash
# Issue 12's comparisons on CPU at small sizes (bytes from the tracking allocator; step times on a
# shared CPU are noisy), written to bench/results/plan_cpu_*.json:
#   bench/plan_cpu.sh [PATH/TO/revunet]      (default build/revunet; run from the repository root)
# (16^3 and one timed step per probe keep it to minutes on 2 shared cores; the times are noise there.)
# Per shipped config at a small cube: a plan under a budget no step reaches (all plain, and both
# whole-network peaks), then the GPU targets' analogues scaled to that config's own measured peaks:
#   unet4 at 16^3 under 7/8 of all plain's peak (16 GiB vs 18.3 GiB on the H100 at 128^3),
#   paper at 16^3 under half its all-plain peak,
#   unet4 at 16^3 under exactly all reversible's peak (the cube only all reversible fits),
#   every config's per-stage table (docs/memory.md) from its unbounded plan.
set -euo pipefail
BIN=${1:-build/revunet}
OUT=bench/results
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
common=(--device cpu --warmup 1 --repeats 1 --threads "$OMP_NUM_THREADS")
peak() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["peak_bytes"])' "$@"; }

plan() {  # plan CONFIG BUDGET NAME
  "$BIN" plan --config "configs/$1.json" --edge 16 --budget "$2" "${common[@]}" \
    --json "$OUT/plan_cpu_$1_16_$3.json"
}
# tiny and unet4 first (the comparisons), then the bigger shipped configs' tables.
for config in tiny unet4; do plan $config 1TiB unbounded; done
plain=$(peak "$OUT/plan_cpu_unet4_16_unbounded.json" all_plain)
plan unet4 $((plain * 7 / 8)) seven_eighths_of_plain
plan unet4 "$(peak "$OUT/plan_cpu_unet4_16_unbounded.json" all_reversible)" at_reversible
plan paper 1TiB unbounded
plan paper $(($(peak "$OUT/plan_cpu_paper_16_unbounded.json" all_plain) / 2)) half_of_plain
plan large 1TiB unbounded
