#!/usr/bin/env bash
# Hostile data and output end to end on tiny synthetic cases: misregistered, 2-D and twin files
# refused by `dataset check` and `predict` with one line naming the files; `predict` predicts every
# good case around a bad one and exits non-zero with the count; a full disk (RLIMIT_FSIZE) leaves
# no truncated prediction and a rerun predicts it, as it re-predicts an unreadable old output;
# output folders that are files or read-only are refused before any data is read; stale
# temporaries of dead runs are removed and live ones kept; nifti_clib prints nothing of its own.
#   tests/cli/data_cli.sh PATH/TO/revunet SOURCE_DIR
set -euo pipefail
BIN=$1
SRC=$2
WORK=$(mktemp -d)
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
failures=0
check() {  # check DESCRIPTION COMMAND...: counts a failure when the command fails
  local what=$1
  shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failures=$((failures + 1)); fi
}
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
count() { find "$1" -maxdepth 1 -name "$2" | wc -l; }
dead_pid() { bash -c 'exit 0' & local pid=$!; wait "$pid"; echo "$pid"; }

"$BIN" synth --out "$WORK/data" --cases 3 --shape 32,32,24 --spacing 6 --seed 5 --threads 1 >/dev/null
ids=($(ls "$WORK/data" | grep -v json))
"$BIN" train --config "$SRC/configs/tiny.json" --data "$WORK/data" --out "$WORK/run" --device cpu \
  --threads 1 --patch 16,16,16 --batch 1 --iterations-per-epoch 1 --epochs 1 --val-fraction 0 \
  >"$WORK/log"
model=$WORK/run/model.pt
predict=(predict --model "$model" --device cpu --threads 1)

# --- Data and geometry -------------------------------------------------------------------------
# A copy of the data whose second case has its FLAIR moved 5 mm (same voxels, same spacing).
cp -r "$WORK/data" "$WORK/shifted"
bad=${ids[1]}
python3 - "$WORK/shifted/$bad/${bad}_flair.nii.gz" <<'EOF'
import gzip, struct, sys
path = sys.argv[1]
raw = bytearray(gzip.open(path).read())
# NIfTI-1: qoffset_x at byte 268, srow_x[3] at 292 (float32, little-endian as revunet writes).
for at in (268, 292):
    struct.pack_into("<f", raw, at, struct.unpack_from("<f", raw, at)[0] + 5.0)
gzip.open(path, "wb").write(bytes(raw))
EOF
if "$BIN" dataset check "$WORK/shifted" >"$WORK/out" 2>"$WORK/err"; then
  echo "FAILED: dataset check accepts a shifted FLAIR"; failures=$((failures + 1))
else
  check "dataset check names both files and the shift" \
    grep -q "problem: $WORK/shifted/$bad/${bad}_flair.nii.gz: voxel-to-world affine differs from $WORK/shifted/$bad/${bad}_t1.nii.gz: origin .* (5 mm apart)" "$WORK/out"
fi

# predict on that folder: the two good cases are predicted, the bad one is named, exit non-zero.
set +e
"$BIN" "${predict[@]}" --in "$WORK/shifted" --out "$WORK/pred_shifted" >"$WORK/out" 2>"$WORK/err"
rc=$?
set -e
check "predict exits non-zero when a case fails" [ "$rc" -ne 0 ]
check "predict still predicts the good cases" [ "$(count "$WORK/pred_shifted" '*.nii.gz')" -eq 2 ]
check "the bad case is named on its own line" grep -q "^$bad: FAILED: .*_flair.nii.gz: voxel-to-world affine differs" "$WORK/err"
check "the last line counts the failures" grep -q "revunet predict: --in: 1 of 3 cases failed" "$WORK/err"

# A 2-D modality and twin files (X_t1.nii beside X_t1.nii.gz).
cp -r "$WORK/data" "$WORK/flat"
python3 - "$WORK/flat/${ids[0]}/${ids[0]}_t2.nii.gz" <<'EOF'
import gzip, struct, sys
path = sys.argv[1]
raw = bytearray(gzip.open(path).read())
struct.pack_into("<h", raw, 40, 2)  # dim[0] = 2
gzip.open(path, "wb").write(bytes(raw))
EOF
gunzip -c "$WORK/flat/${ids[2]}/${ids[2]}_t1.nii.gz" >"$WORK/flat/${ids[2]}/${ids[2]}_t1.nii"
"$BIN" dataset check "$WORK/flat" >"$WORK/out" 2>"$WORK/err" || true
check "a 2-D image is named as 2-D" grep -q "problem: $WORK/flat/${ids[0]}/${ids[0]}_t2.nii.gz: is a 2-D image" "$WORK/out"
check "twin files are named both" grep -q "problem: $WORK/flat/${ids[2]}/${ids[2]}_t1.nii and $WORK/flat/${ids[2]}/${ids[2]}_t1.nii.gz: both are the t1 file" "$WORK/out"
check "nifti_clib prints nothing of its own" [ "$(grep -c -e '^\*\*' -e '^++' "$WORK/out" "$WORK/err" | awk -F: '{s+=$2} END {print s}')" -eq 0 ]

# --- Output that is never truncated -------------------------------------------------------------
# A full disk: every write fails (RLIMIT_FSIZE 0, SIGXFSZ ignored so writes fail with EFBIG).
set +e
# The limit covers the run's own stdout/stderr files too: its stderr goes through a pipe.
(trap '' XFSZ; ulimit -f 0; "$BIN" "${predict[@]}" --in "$WORK/data" --out "$WORK/pred" 2>&1 >/dev/null) |
  cat >"$WORK/err"
rc=${PIPESTATUS[0]}
set -e
check "a full disk fails the run" [ "$rc" -ne 0 ]
check "a full disk leaves no prediction and no temporary" [ "$(count "$WORK/pred" '*.nii.gz*')" -eq 0 ]
check "each case says why" [ "$(grep -c 'FAILED: .*disk full' "$WORK/err")" -eq 3 ]
"$BIN" "${predict[@]}" --in "$WORK/data" --out "$WORK/pred" >"$WORK/out"
check "the rerun predicts every case" [ "$(count "$WORK/pred" '*.nii.gz')" -eq 3 ]

# An unreadable old output (truncated by some other program) is predicted again, not skipped.
head -c 200 "$WORK/pred/${ids[0]}.nii.gz" >"$WORK/pred/trunc" && mv "$WORK/pred/trunc" "$WORK/pred/${ids[0]}.nii.gz"
dead=$(dead_pid)
echo partial >"$WORK/pred/${ids[1]}.nii.gz.tmp.$dead.7"   # a killed run's temporary
echo live >"$WORK/pred/${ids[1]}.nii.gz.tmp.$$.7"         # a live process's temporary
echo other >"$WORK/pred/notes.txt.tmp.$dead.7"            # not one of predict's files
"$BIN" "${predict[@]}" --in "$WORK/data" --out "$WORK/pred" >"$WORK/out"
check "an unreadable output is predicted again, saying so" grep -q "^${ids[0]}: .*; predicting it again" "$WORK/out"
check "the readable ones are skipped" [ "$(grep -c 'exists, skipped' "$WORK/out")" -eq 2 ]
check "the stale temporary is removed" [ ! -e "$WORK/pred/${ids[1]}.nii.gz.tmp.$dead.7" ]
check "a live process's temporary is kept" [ -e "$WORK/pred/${ids[1]}.nii.gz.tmp.$$.7" ]
check "another program's temporary is kept" [ -e "$WORK/pred/notes.txt.tmp.$dead.7" ]
check "the re-predicted output is whole" \
  [ "$(gunzip -c "$WORK/pred/${ids[0]}.nii.gz" | wc -c)" -eq $((352 + 32 * 32 * 24)) ]

# train removes its own stale temporaries (run folder and cache), keeps others.
echo partial >"$WORK/run/last.pt.tmp.$dead.3"
echo partial >"$WORK/run/cache/${ids[0]}.rvcase.tmp.$dead.3"
echo keep >"$WORK/run/mine.txt.tmp.$dead.3"
"$BIN" train --config "$SRC/configs/tiny.json" --data "$WORK/data" --out "$WORK/run" --device cpu \
  --threads 1 --patch 16,16,16 --batch 1 --iterations-per-epoch 1 --epochs 1 --val-fraction 0 \
  >"$WORK/log"
check "train removes its stale checkpoint temporary" [ ! -e "$WORK/run/last.pt.tmp.$dead.3" ]
check "train removes its stale cache temporary" [ ! -e "$WORK/run/cache/${ids[0]}.rvcase.tmp.$dead.3" ]
check "train says so" grep -q "removed 2 temporary files left by a killed run" "$WORK/log"
check "train keeps a file that is not its own" [ -e "$WORK/run/mine.txt.tmp.$dead.3" ]

# Output folders that cannot take files: one line, before any data is read (--in/--data point at
# the shifted dataset, which would fail with another message if it were read).
touch "$WORK/a_file"
expect_error "predict into a file" "^revunet predict: --out: $WORK/a_file is a file, not a folder$" \
  "${predict[@]}" --in "$WORK/shifted" --out "$WORK/a_file"
expect_error "train into a file" "^revunet train: --out: $WORK/a_file is a file, not a folder$" \
  train --config "$SRC/configs/tiny.json" --data "$WORK/shifted" --out "$WORK/a_file"
expect_error "synth into a file" "^revunet synth: --out: $WORK/a_file is a file, not a folder$" \
  synth --out "$WORK/a_file" --cases 1 --shape 16,16,16
expect_error "a folder under a file" "^revunet predict: --out: cannot create the folder $WORK/a_file/sub" \
  "${predict[@]}" --in "$WORK/shifted" --out "$WORK/a_file/sub"
mkdir "$WORK/readonly" && chmod 555 "$WORK/readonly"
if touch "$WORK/readonly/probe" 2>/dev/null; then
  rm -f "$WORK/readonly/probe"
  echo "skipped: read-only folder (this user writes into mode 555 folders, e.g. root)"
else
  expect_error "predict into a read-only folder" \
    "^revunet predict: --out: cannot write into the folder $WORK/readonly (Permission denied)$" \
    "${predict[@]}" --in "$WORK/shifted" --out "$WORK/readonly"
fi

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
