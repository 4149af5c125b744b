#!/usr/bin/env bash
# gantry train end to end on a tiny synthetic dataset: world-size invariance
# (1, 2, 4 ranks), bit-exact resume, resume on another world size, a stop
# signal (checkpoint + exit 75 + resume; USR1 to mpirun, TERM to launch/mpirun.sh), a corrupted newest checkpoint
# (fallback), an injected NaN (skipped update), a streak of them (stop, last
# good checkpoint intact), per-rank batch norm on 2 ranks, bad configs (exit 2).
source "$(dirname "$0")/lib.sh"
cd "$WORK"
"$GANTRY" synth --shape 1,28,28 --count 256 --seed 3 --out d.h5 --quiet >/dev/null || fail "synth"
{ tiny_dcgan_toml; cat <<'TOML'; } >tiny.toml
hflip = true
shift = 1
[train]
steps = 6
loss = "hinge"
checkpoint_every = 3
keep_checkpoints = 5
seed = 11
[reg]
direal_d = true
direal_g = true
ha_lambda_d = 0.001
[log]
every = 1
sample_every = 3
sample_count = 16
TOML
mpirun_n() { local n=$1; shift; timeout 300 mpirun -np "$n" "$GANTRY" "$@"; }
train() {  # train N RUN_DIR [--set ...]
  local n=$1 dir=$2
  shift 2
  mpirun_n "$n" train --config tiny.toml --run-dir "$dir" --quiet "$@" >"$WORK/$dir.log" 2>&1
}
same() {  # same A B TOL
  "$GANTRY" diff "$1" "$2" --tol "$3" >"$WORK/diff.json" 2>&1 || fail "$1 vs $2 differ beyond $3: $(head -c 600 "$WORK/diff.json")"
}

# World-size invariance: the global batch fixed, 1 / 2 / 4 ranks, same parameters after 6 steps.
for n in 1 2 4; do train $n w$n || fail "training on $n ranks"; done
for n in 2 4; do same w1/ckpt-000000006.pt w$n/ckpt-000000006.pt 1e-4; done
# The run dir holds what it should.
[[ -s w1/metrics.jsonl && $(wc -l <w1/metrics.jsonl) == 6 ]] || fail "metrics.jsonl: $(wc -l <w1/metrics.jsonl) lines"
grep -q '"direal_d"' w1/metrics.jsonl && grep -q '"loss_g"' w1/metrics.jsonl || fail "metrics lack loss terms"
[[ -s w1/samples/g-000000006.png && -s w1/samples/g_ema-000000003.png ]] || fail "sample grids missing"
[[ -s w1/config.toml ]] || fail "resolved config not saved"

# log.timing: the metrics carry the step's split, timing.jsonl each phase's buckets, whose
# sizes add up to the module's parameters (from the checkpoint) and whose ready times lie
# inside backward; timing does not change the parameters.
train 2 tm --set log.timing=true || fail "training with log.timing"
same w2/ckpt-000000006.pt tm/ckpt-000000006.pt 0
for k in time_d_comm_s time_g_comm_s time_d_backward_s time_g_backward_s time_step_s; do
  grep -q "\"$k\"" tm/metrics.jsonl || fail "metrics lack $k"
done
"$GANTRY" inspect --checkpoint tm/ckpt-000000006.pt >tm.json 2>&1 || fail "inspect tm"
python3 - tm.json tm/timing.jsonl <<'PY' || fail "timing.jsonl: see above"
import json, math, sys
tensors = json.load(open(sys.argv[1]))["tensors"]
params = {m: 4 * sum(math.prod(v["shape"]) for k, v in tensors.items()
                     if k.startswith(m + "/") and k.endswith(("/weight", "/bias"))) for m in ("D", "G")}
rows = [json.loads(line) for line in open(sys.argv[2])]
assert len(rows) == 12, f"{len(rows)} timing lines, expected 6 steps x (d, g)"
for r in rows:
    want = params[r["phase"].upper()]
    assert sum(r["bucket_bytes"]) == want, (r["phase"], sum(r["bucket_bytes"]), want)
    assert len(r["bucket_ready_s"]) == len(r["bucket_bytes"]) > 0
    assert all(0 <= t <= r["backward_s"] + 1e-9 for t in r["bucket_ready_s"]), r
    assert r["exposed_s"] >= 0 and r["ranks"] == 2
PY
# Bit-exact resume: 3 steps, then resume to 6 == 6 straight (same world size).
train 2 r2 --set train.steps=3 || fail "first half"
train 2 r2 || fail "resumed half"
grep -q "resuming from .*ckpt-000000003.pt" r2.log || fail "did not resume: $(tail -3 r2.log)"
same w2/ckpt-000000006.pt r2/ckpt-000000006.pt 0

# Resume on another world size: 3 steps on 2 ranks, 3 more on 1 rank.
train 2 x --set train.steps=3 || fail "2-rank half"
train 1 x || fail "1-rank half"
same w1/ckpt-000000006.pt x/ckpt-000000006.pt 1e-4

# A corrupted newest checkpoint: reported, the previous one used, training completes.
cp -r w1 c
printf 'garbage' | dd of=c/ckpt-000000006.pt bs=1 seek=1000 conv=notrunc 2>/dev/null
train 1 c --set train.steps=6 || fail "training after corruption"
grep -q "ckpt-000000006.pt is unusable (checksum mismatch" c.log || fail "corruption not reported: $(head -3 c.log)"
grep -q "resuming from .*ckpt-000000003.pt" c.log || fail "no fallback to step 3"
same w1/ckpt-000000006.pt c/ckpt-000000006.pt 0

# stop_and_resume DIR SIGNAL LAUNCHER...: a run started by LAUNCHER gets SIGNAL at step 3 →
# checkpoint, exit 75, no rank left behind, then a resume from that checkpoint.
stop_and_resume() {
  local dir=$1 sig=$2
  shift 2
  "$@" "$GANTRY" train --config tiny.toml --run-dir "$dir" --set train.steps=100000 --set log.every=1 >"$dir.log" 2>&1 &
  local pid=$!
  MPI_PID=$pid
  wait_for '"step":3' "$dir/metrics.jsonl" 120 || fail "$dir: run did not start"
  kill -"$sig" $pid
  wait $pid
  local rc=$?
  MPI_PID=
  [[ $rc == 75 ]] || fail "$dir: $sig to $1: exit $rc, expected 75: $(tail -3 "$dir.log")"
  grep -q "stop requested: checkpointing" "$dir.log" || fail "$dir: no graceful stop after $sig"
  pgrep -f "run-dir $dir " >/dev/null && fail "$dir: ranks left behind after $sig"
  local last step
  last=$(ls "$dir"/ckpt-*.pt | tail -1)
  step=$((10#$(basename "$last" .pt | cut -d- -f2)))
  ((step >= 3)) || fail "$dir: stop checkpoint at step $step"
  train 2 "$dir" --set train.steps=$((step + 2)) || fail "$dir: resume after $sig"
  grep -q "resuming from .*$(basename "$last")" "$dir.log" || fail "$dir: did not resume from the stop checkpoint"
}
# USR1 to mpirun: forwarded to the ranks.
stop_and_resume s USR1 mpirun -np 2
# TERM to the launcher (what `kill` and a scheduler's grace signal send): the same graceful
# stop (plain mpirun would abort the job on TERM and exit 1).
stop_and_resume t TERM "$(cd "$(dirname "$0")/../../launch" && pwd)/mpirun.sh" -n 2

# An injected NaN: the update is skipped on every rank, training goes on.
GANTRY_INJECT_NAN_STEP=2 mpirun_n 2 train --config tiny.toml --run-dir n >n.log 2>&1 || fail "NaN run failed: $(tail -3 n.log)"
grep -q "step 2: non-finite d gradient, update skipped" n.log || fail "NaN not reported"
grep -q '"skipped_updates":1' n/metrics.jsonl || fail "skipped update not counted"

# Non-finite steps in a row: the run stops (exit 1) after train.max_bad_steps of them,
# none of them checkpointed; the newest checkpoint is the last good step's and loads.
GANTRY_INJECT_NAN_STEP=2-100 mpirun_n 2 train --config tiny.toml --run-dir nb --set train.steps=20 \
  --set train.max_bad_steps=3 --set train.checkpoint_every=1 >nb.log 2>&1
rc=$?
[[ $rc == 1 ]] || fail "bad streak: exit $rc, expected 1: $(tail -3 nb.log)"
grep -q "3 steps in a row with non-finite gradients: stopping" nb.log || fail "no bad-streak message: $(tail -3 nb.log)"
[[ $(ls nb/ckpt-*.pt | tail -1) == nb/ckpt-000000002.pt ]] || fail "newest checkpoint is $(ls nb/ckpt-*.pt | tail -1)"
"$GANTRY" inspect --checkpoint nb/ckpt-000000002.pt >/dev/null || fail "last good checkpoint does not load"

# bf16 autocast: trains, stays finite, is world-size invariant to bf16's precision
# (8-bit mantissa: ~4e-3 relative per rounding; the largest differences are in Adam's
# moments of bf16-computed gradients, ~1e-2; weights ~1e-3), and really differs from fp32.
# (The layer-level check with relative tolerances: dist GlobalBatchLayers.*Bf16*.)
for n in 1 2; do train $n b$n --set train.precision=bf16 || fail "bf16 training on $n ranks: $(tail -3 b$n.log)"; done
grep -q '"skipped_updates":0' b1/metrics.jsonl || fail "bf16: skipped updates"
python3 - b1/metrics.jsonl <<'PY' || fail "bf16 metrics not finite"
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"step"' in l and '"loss_d"' in l]
assert rows and all(math.isfinite(r[k]) for r in rows for k in ("loss_d", "loss_g", "grad_norm_d", "grad_norm_g")), rows
PY
same b1/ckpt-000000006.pt b2/ckpt-000000006.pt 2e-2
"$GANTRY" diff w1/ckpt-000000006.pt b1/ckpt-000000006.pt --tol 1e-6 >/dev/null 2>&1 && fail "bf16 run equals the fp32 run"
# Gradient sync after backward instead of overlapped, small buckets: the same parameters.
train 2 ov --set train.grad_sync_overlap=false --set train.bucket_cap_mb=0.01 || fail "no-overlap training: $(tail -3 ov.log)"
same w2/ckpt-000000006.pt ov/ckpt-000000006.pt 1e-6
# channels_last: the same training in NHWC layout gives the fp32 parameters (layout-independent values).
train 2 cl --set train.channels_last=true || fail "channels_last training: $(tail -3 cl.log)"
same w2/ckpt-000000006.pt cl/ckpt-000000006.pt 1e-4
# ... and resumes from a checkpoint of the default layout to the straight channels_last run's parameters.
train 2 clr --set train.steps=3 || fail "first half, default layout"
train 2 clr --set train.channels_last=true || fail "resumed half, channels_last"
same cl/ckpt-000000006.pt clr/ckpt-000000006.pt 1e-4

# Bad configs: one line, exit 2, before any training.
expect_bad() {  # expect_bad PATTERN NP args...
  local pattern=$1 np=$2
  shift 2
  mpirun_n "$np" train --config tiny.toml --run-dir bad "$@" >bad.log 2>&1
  local rc=$?
  [[ $rc == 2 ]] || fail "'$*' exited $rc, expected 2: $(tail -2 bad.log)"
  grep -q -- "$pattern" bad.log || fail "'$*' did not print '$pattern': $(cat bad.log)"
  [[ $(grep -c "gantry:" bad.log) == 1 ]] || fail "'$*' printed more than one error line"
}
# Per-rank batch norm (model.sync_batch_norm = false): each rank's running statistics differ
# during training; at checkpoints (and samples, evaluation) the ranks agree on their mean, so the
# replica check passes, the run checkpoints and it resumes.
mpirun_n 2 train --config tiny.toml --run-dir perrank_bn --quiet --set model.sync_batch_norm=false \
  --set train.steps=4 --set train.checkpoint_every=2 --set log.sample_every=3 >perrank.log 2>&1 ||
  fail "per-rank batch norm on 2 ranks: $(grep gantry: perrank.log | head -3)"
mpirun_n 2 train --config tiny.toml --run-dir perrank_bn --quiet --set model.sync_batch_norm=false \
  --set train.steps=6 --set train.checkpoint_every=2 >perrank.log 2>&1 ||
  fail "resuming per-rank batch norm: $(grep gantry: perrank.log | head -3)"
[[ -f perrank_bn/ckpt-000000006.pt ]] || fail "per-rank batch norm: no step-6 checkpoint"

expect_bad "config: unknown key 'model.colour'" 2 --set model.colour=3
expect_bad "config: train.steps must be an integer, not a string" 2 --set train.steps=many
expect_bad "data.batch 8 must be a multiple of the world size 3" 3
expect_bad "gradient normalization (GN) needs per-sample gradients of D and cannot be combined with batch norm in D" 1 --set reg.grad_norm=gn --set model.d_norm=bn
expect_bad "nope.h5: no such file" 1 --set data.path=nope.h5
expect_bad "train.precision must be fp32 or bf16, not 'fp16'" 1 --set train.precision=fp16
expect_bad "train.bucket_cap_mb must be in (0, 4096]" 1 --set train.bucket_cap_mb=0
expect_bad "holds 1x28x28 images, the model makes 3x32x32" 1 --set model.channels=3 --set model.resolution=32
echo PASS
