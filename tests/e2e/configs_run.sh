#!/usr/bin/env bash
# Every config in configs/ is valid and trains: 2 steps on 2 ranks on a tiny
# synthetic dataset of the config's image shape, with small widths and batches.
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
  timeout 600 mpirun -np 2 "$GANTRY" train --config "$cfg" --run-dir "r_$name" --quiet "${data_args[@]}" \
    --set data.batch=4 --set train.g_batch=4 --set train.steps=2 \
    --set model.g_width=4 --set model.d_width=4 --set model.vbn_reference=4 --set train.checkpoint_every=2 \
    --set log.every=1 --set log.sample_every=2 --set log.sample_count=4 >"$WORK/$name.log" 2>&1 \
    || fail "$name did not train: $(tail -3 "$WORK/$name.log")"
  [[ -s r_$name/ckpt-000000002.pt && $(grep -c '"step"' "r_$name/metrics.jsonl") -ge 2 ]] || fail "$name: no checkpoint or metrics"
  if grep -q '^mixture *=' "$cfg"; then
    grep -q '"event":"eval"' "r_$name/metrics.jsonl" || fail "$name: no evaluation at the last step"
  fi
done
echo PASS
