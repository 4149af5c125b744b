#!/usr/bin/env bash
# Every config in configs/ is valid and trains: 2 steps on a tiny synthetic
# dataset of the config's image shape, with small widths, at 1, 2, 4 and 8
# samples per rank on 2 ranks and 1 per rank on 3 ranks (collectives must
# never depend on a rank's data: issue 12). A combination a config cannot
# train (e.g. per-rank batch norm over one sample) must be refused before
# training with one line and exit 2; anything else (a crash, a hang, an MPI
# error) fails the test.
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$WORK"
for cfg in "$repo"/configs/*.toml; do
  name=$(basename "$cfg" .toml)
  if grep -q '^mixture *=' "$cfg"; then  # 2-D mixture: drawn on the fly, evaluated at the last step
    data_args=(--set eval.count=64)
  else
    res=$(sed -n 's/^resolution *= *\([0-9]*\).*/\1/p' "$cfg")
    ch=$(sed -n 's/^channels *= *\([0-9]*\).*/\1/p' "$cfg")
    [[ -n $res && -n $ch ]] || fail "$name: no model.resolution / model.channels"
    data=d_${ch}_${res}.h5
    [[ -f $data ]] || "$GANTRY" synth --shape "$ch,$res,$res" --count 32 --out "$data" --quiet >/dev/null || fail "synth $data"
    data_args=(--set data.path="\"$data\"")
  fi
  for shape in 2x1 2x2 2x4 2x8 3x1; do
    ranks=${shape%x*} per=${shape#*x} run=r_${name}_$shape
    batch=$((ranks * per))
    rc=0
    timeout 600 mpirun -np "$ranks" "$GANTRY" train --config "$cfg" --run-dir "$run" --quiet "${data_args[@]}" \
      --set data.batch=$batch --set train.g_batch=$batch --set train.steps=2 \
      --set model.g_width=4 --set model.d_width=4 --set model.vbn_reference=4 --set train.checkpoint_every=2 \
      --set log.every=1 --set log.sample_every=2 --set log.sample_count=4 >"$WORK/$name.log" 2>"$WORK/$name.err" || rc=$?
    if ((rc == 2)); then  # refused: one line of ours, nothing else
      [[ $(wc -l <"$WORK/$name.err") == 1 ]] && grep -q '^gantry: ' "$WORK/$name.err" ||
        fail "$name $shape: exit 2 without one error line: $(head -5 "$WORK/$name.err")"
      echo "$name: $ranks ranks x $per refused: $(cat "$WORK/$name.err")"
      continue
    fi
    ((rc == 0)) || fail "$name $shape (ranks x per-rank batch) did not train (exit $rc): $(tail -5 "$WORK/$name.err")"
    [[ -s $run/ckpt-000000002.pt && $(grep -c '"step"' "$run/metrics.jsonl") -ge 2 ]] ||
      fail "$name $shape: no checkpoint or metrics"
    if grep -q '^mixture *=' "$cfg"; then
      grep -q '"event":"eval"' "$run/metrics.jsonl" || fail "$name $shape: no evaluation at the last step"
    fi
    rm -rf "$run"
  done
done
echo PASS
