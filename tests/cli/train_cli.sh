#!/usr/bin/env bash
# The revunet program end to end on tiny synthetic cases: train on a k-fold split, resume to more
# epochs, stop by a time limit, predict with timings; and the one-line errors of bad flags.
#   tests/cli/train_cli.sh PATH/TO/revunet SOURCE_DIR
set -euo pipefail
BIN=$1
SRC=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failures=0
check() {  # check DESCRIPTION COMMAND...: counts a failure when the command fails
  local what=$1
  shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failures=$((failures + 1)); fi
}
lines() { grep -c . "$1"; }
# expect_error DESCRIPTION PATTERN ARGS...: non-zero exit, one line on stderr matching PATTERN
expect_error() {
  local what=$1 pattern=$2
  shift 2
  if "$BIN" "$@" >"$WORK/out" 2>"$WORK/err"; then
    echo "FAILED: $what (exit 0)"
    failures=$((failures + 1))
  elif [ "$(grep -c . "$WORK/err")" -ne 1 ] || ! grep -q -- "$pattern" "$WORK/err"; then
    echo "FAILED: $what: stderr was:"
    cat "$WORK/err"
    failures=$((failures + 1))
  else
    echo "ok: $what: $(cat "$WORK/err")"
  fi
}

"$BIN" synth --out "$WORK/data" --cases 4 --shape 32,32,24 --spacing 6 --seed 3 --threads 1 >/dev/null
common=(--config "$SRC/configs/tiny.json" --data "$WORK/data" --device cpu --threads 1
        --patch 16,16,16 --batch 1 --iterations-per-epoch 2 --fold 1 --folds 4)

"$BIN" train "${common[@]}" --out "$WORK/run" --epochs 2 >"$WORK/log"
check "two epochs logged" [ "$(lines "$WORK/run/metrics.jsonl")" -eq 2 ]
check "fold 1 of 4 validates on one case" \
  [ "$(tr -d ' \n' <"$WORK/run/split.json" | grep -o '"validation":\[[^]]*\]' | grep -o '"' | wc -l)" -eq 4 ]
for f in last.pt best.pt model.pt curves.png; do check "$f written" [ -s "$WORK/run/$f" ]; done

"$BIN" train "${common[@]}" --out "$WORK/run" --epochs 3 --resume >"$WORK/log"
check "resume adds the third epoch" [ "$(lines "$WORK/run/metrics.jsonl")" -eq 3 ]
check "resume continues the iteration count" grep -q '"iteration":6' "$WORK/run/metrics.jsonl"

"$BIN" train "${common[@]}" --out "$WORK/timed" --epochs 50 --time-limit 0.0001 --mode plain >"$WORK/log"
check "a time limit ends the run after one epoch" [ "$(lines "$WORK/timed/metrics.jsonl")" -eq 1 ]
check "the time-limited run is saved" [ -s "$WORK/timed/model.pt" ]

# --mode auto: per-stage modes planned for the budget, cached in RUNDIR/plan.json, recorded in model.pt.
"$BIN" train --config "$SRC/configs/tiny.json" --data "$WORK/data" --device cpu --threads 1 \
  --patch 16,16,16 --batch 1 --iterations-per-epoch 1 --val-fraction 0 --out "$WORK/auto" \
  --mode auto --budget 1GiB --epochs 1 >"$WORK/log"
check "--mode auto writes its plan" [ -s "$WORK/auto/plan.json" ]
check "--mode auto says what it measured" grep -q "^plan: measuring" "$WORK/log"
check "under 1 GiB the tiny model trains all plain" grep -aq '"mode":"plain"' "$WORK/auto/model.pt"
"$BIN" train --config "$SRC/configs/tiny.json" --data "$WORK/data" --device cpu --threads 1 \
  --patch 16,16,16 --batch 1 --iterations-per-epoch 1 --val-fraction 0 --out "$WORK/auto" \
  --mode auto --budget 1GiB --epochs 2 --resume >"$WORK/log"
check "a resumed auto run reuses its plan" grep -q "^plan: reusing" "$WORK/log"
expect_error "a budget nothing fits names the smallest that does" "smallest budget that does is" \
  train --config "$SRC/configs/tiny.json" --data "$WORK/data" --device cpu --threads 1 \
  --patch 16,16,16 --batch 1 --iterations-per-epoch 1 --val-fraction 0 --out "$WORK/auto" \
  --mode auto --budget 64KiB --epochs 3 --resume
check "the cached plan that no longer fits is re-planned, saying so" grep -q "no longer fits" "$WORK/out"
expect_error "--budget without --mode auto" "--budget: is the budget of --mode auto" \
  train "${common[@]}" --out "$WORK/nb" --budget 1GiB
expect_error "--mode auto without a budget on CPU" "--mode auto: needs --budget" \
  train "${common[@]}" --out "$WORK/na" --mode auto

"$BIN" predict --model "$WORK/run/model.pt" --in "$WORK/data" --out "$WORK/pred" --device cpu \
  --threads 1 --json "$WORK/pred/times.json" >"$WORK/log"
check "predicts every case" [ "$(ls "$WORK/pred"/*.nii.gz | wc -l)" -eq 4 ]
check "prediction timings per case" [ "$(grep -c '"network_seconds"' "$WORK/pred/times.json")" -eq 4 ]

expect_error "bf16 on CPU" "bf16" train "${common[@]}" --out "$WORK/bf16" --epochs 1 --bf16
expect_error "unknown mode" "sideways" train "${common[@]}" --out "$WORK/m" --mode sideways
expect_error "fold out of range" "--fold" train "${common[@]}" --out "$WORK/f" --fold 4
expect_error "resume without a checkpoint" "last.pt" train "${common[@]}" --out "$WORK/none" --resume
expect_error "negative time limit" "--time-limit" train "${common[@]}" --out "$WORK/t" --time-limit -1
expect_error "unknown flag" "--epoch" train "${common[@]}" --out "$WORK/u" --epoch 3

# Every flag is checked before any work: --data points at a folder whose case cannot even load,
# so an error naming the flag proves nothing was read.
mkdir -p "$WORK/garbage/BraTS_0/" && echo "not a NIfTI" >"$WORK/garbage/BraTS_0/BraTS_0_t1.nii.gz"
bad_data=(--config "$SRC/configs/tiny.json" --data "$WORK/garbage" --out "$WORK/b" --device cpu)
expect_error "negative epochs before loading data" "^revunet train: --epochs: must be at least 1, got -1$" \
  train "${bad_data[@]}" --epochs -1
expect_error "zero iterations names the real flag" "--iterations-per-epoch: must be at least 1" \
  train "${bad_data[@]}" --iterations-per-epoch 0
expect_error "a stray positional argument" "stray: unexpected argument" train "${bad_data[@]}" stray
expect_error "a value after a switch" "--no-augment: is a switch and takes no value, got 'yes'" \
  train "${bad_data[@]}" --no-augment yes
expect_error "a value glued to a switch" "--no-augment: is a switch and takes no value" \
  train "${bad_data[@]}" --no-augment=yes
expect_error "a flag without its value" "--epochs: needs a value" train "${bad_data[@]}" --epochs
expect_error "a fraction for a whole number" "--batch 1.5: expected a whole number" \
  train "${bad_data[@]}" --batch 1.5
expect_error "a patch of two sizes" "--patch: expected 3 comma-separated values, got 2" \
  train "${bad_data[@]}" --patch 16,16
expect_error "--fold with --val-fraction" "--val-fraction: cannot be combined with --fold" \
  train "${bad_data[@]}" --fold 1 --val-fraction 0.3
expect_error "a missing config" "--config: File does not exist" \
  train --config "$WORK/none.json" --data "$WORK/data" --out "$WORK/c"
expect_error "a required flag" "--out: is required" train --config "$SRC/configs/tiny.json" --data "$WORK/data"
expect_error "an unknown command" "unknown command 'trian'" trian
expect_error "an unknown bench" "sideways: unknown command; expected one of stack, unet" bench sideways
expect_error "plot without its LOG" "expected a LOG argument" plot
check "--help exits 0 on every subcommand" bash -c \
  'for c in bench "bench stack" "bench unet" synth dataset "dataset check" evaluate plot memory plan train predict demo; do "$0" $c --help >/dev/null || exit 1; done' "$BIN"

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
