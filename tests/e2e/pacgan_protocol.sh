#!/usr/bin/env bash
# PacGAN's 2-D protocol end to end (configs/pacgan_*.toml): packing (m = 2,
# one G call per pack slot) with the fixed reshuffled training set gives the
# same parameters on 1 and 2 ranks and resumes exactly (R1 on packs too); the evaluation's KL and JSD agree with numpy on
# the logged histogram; and bad packing configs exit 2 with one line. The
# results runner over these configs is tests/e2e/results_runner.sh.
source "$(dirname "$0")/lib.sh"
PY=${2:?usage: $0 gantry python}
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$WORK"
small=(--set data.batch=20 --set data.mixture_pool=60 --set model.pack=2 --set train.checkpoint_every=3
  --set eval.every=3 --set eval.count=500 --set log.every=1 --set log.sample_every=100 --set train.seed=4)
train() {  # train N RUN_DIR STEPS [--set ...]
  local n=$1 dir=$2 steps=$3
  shift 3
  timeout 300 mpirun -np "$n" "$GANTRY" train --config "$repo/configs/pacgan_ring8.toml" --run-dir "$dir" --quiet \
    "${small[@]}" --set train.steps="$steps" "$@" >"$dir.log" 2>&1
}
# 9 steps = 3 epochs of the 60-point set: 1 and 2 ranks agree (sync BN, each rank's half of every pack batch).
train 1 p1 9 || fail "1-rank packed run"
train 2 p2 9 || fail "2-rank packed run"
"$GANTRY" diff p1/ckpt-000000009.pt p2/ckpt-000000009.pt --tol 1e-4 >diff.json 2>&1 ||
  fail "1 vs 2 ranks: $(head -c 600 diff.json)"
# Stopped at step 3 (mid-epoch), resumed to 9: bit-identical to the uninterrupted run.
train 1 r 3 && train 1 r 9 || fail "resumed run"
"$GANTRY" diff p1/ckpt-000000009.pt r/ckpt-000000009.pt --tol 0 >diff.json 2>&1 ||
  fail "resume differs: $(head -c 600 diff.json)"
# Without packing the run differs (the option acts), and so does one G call for both pack slots
# (train.pack_slot_forward = false: G's BN over the step's 20 fakes, not each slot's 10).
train 1 u 9 --set model.pack=1 || fail "unpacked run"
"$GANTRY" diff p1/ckpt-000000009.pt u/ckpt-000000009.pt --tol 0 >/dev/null 2>&1 && fail "model.pack=2 changed nothing"
train 1 w 9 --set train.pack_slot_forward=false || fail "packed run with one G call"
"$GANTRY" diff p1/ckpt-000000009.pt w/ckpt-000000009.pt --tol 0 >/dev/null 2>&1 &&
  fail "train.pack_slot_forward changed nothing"
# A resume trains with the config's Adam options, not the checkpoint's (LibTorch's optimizer archive restores
# the saved β): from p1's step-6 checkpoint, the same config reproduces p1 and β1 = 0 changes the run.
for dir in rs rb; do mkdir -p $dir && cp p1/ckpt-000000006.pt $dir/; done
train 1 rs 9 || fail "resume with the same config"
train 1 rb 9 --set train.beta1_g=0 --set train.beta1_d=0 || fail "resume with beta1 0"
"$GANTRY" diff p1/ckpt-000000009.pt rs/ckpt-000000009.pt --tol 0 >diff.json 2>&1 ||
  fail "resume with the same config differs: $(head -c 600 diff.json)"
"$GANTRY" diff p1/ckpt-000000009.pt rb/ckpt-000000009.pt --tol 0 >/dev/null 2>&1 &&
  fail "resuming with train.beta1_g/d=0 kept the checkpoint's beta1"
# The β1 switch (train.beta1_switch_step = 6, to 0) is that fork in one run: p1 up to step 6, then rb exactly.
train 1 sw 9 --set train.beta1_switch_step=6 --set train.beta1_switch_to=0 || fail "run with a beta1 switch"
"$GANTRY" diff p1/ckpt-000000006.pt sw/ckpt-000000006.pt --tol 0 >diff.json 2>&1 ||
  fail "the beta1 switch acted before its step: $(head -c 600 diff.json)"
"$GANTRY" diff rb/ckpt-000000009.pt sw/ckpt-000000009.pt --tol 0 >diff.json 2>&1 ||
  fail "the beta1 switch differs from resuming with beta1 0: $(head -c 600 diff.json)"
# R1 on packs (its mean is per pack, D's data point): the same on 1 and 2 ranks, logged, and it acts.
train 1 q1 9 --set reg.r1_gamma=1 || fail "1-rank packed run with R1"
train 2 q2 9 --set reg.r1_gamma=1 || fail "2-rank packed run with R1"
"$GANTRY" diff q1/ckpt-000000009.pt q2/ckpt-000000009.pt --tol 1e-4 >diff.json 2>&1 ||
  fail "R1 on packs, 1 vs 2 ranks: $(head -c 600 diff.json)"
"$GANTRY" diff p1/ckpt-000000009.pt q1/ckpt-000000009.pt --tol 0 >/dev/null 2>&1 && fail "reg.r1_gamma=1 changed nothing"
"$PY" -c '
import json, sys
r1 = [e["r1"] for e in map(json.loads, open(sys.argv[1])) if "r1" in e]
assert len(r1) == 9 and all(v > 0 for v in r1), r1' q1/metrics.jsonl || fail "R1 not logged per step"
# Lazy R1 (every 4th D step, scaled by 4): due at steps 1, 5, 9 (D-step count 0, 4, 8). Steps between
# log the last applied term but do not pay it (loss_d = loss_d_adv there); step 1 is 4x the eager run's.
train 1 q4 9 --set reg.r1_gamma=1 --set reg.r1_interval=4 || fail "1-rank packed run with lazy R1"
"$PY" - q1/metrics.jsonl q4/metrics.jsonl <<'PY' || fail "lazy R1's log"
import json, sys
eager, lazy = ({e["step"]: e for e in map(json.loads, open(f)) if "r1" in e} for f in sys.argv[1:])
assert sorted(lazy) == list(range(1, 10)), sorted(lazy)
close = lambda a, b: abs(a - b) <= 1e-5 * max(1.0, abs(a), abs(b))
assert close(lazy[1]["r1"], 4 * eager[1]["r1"]), (lazy[1]["r1"], eager[1]["r1"])
for t, e in lazy.items():
    due = (t - 1) % 4 == 0
    held = e["r1"] if due else lazy[(t - 1) // 4 * 4 + 1]["r1"]
    assert e["r1"] == held, (t, e["r1"], held)
    paid = e["loss_d"] - e["loss_d_adv"]
    assert close(paid, e["r1"] if due else 0.0), (t, paid, e["r1"])
PY

"$PY" - p1/metrics.jsonl <<'PY' || fail "eval events"
import json, math, sys
import numpy as np
evals = [json.loads(l) for l in open(sys.argv[1]) if '"event":"eval"' in l]
assert [e["step"] for e in evals] == [3, 6, 9], evals
for e in evals:
    m = e["modes"]
    assert m["mixture"] == "pacgan_ring8" and m["total"] == 8 and e["net"] == "G", e
    h = np.array(m["histogram"], float)
    if h.sum() == 0:
        assert m["kl"] is None and m["jsd"] is None, m
        continue
    p, u = h / h.sum(), np.full(8, 1 / 8)
    mid = (p + u) / 2
    nz = p > 0
    kl = float(np.sum(p[nz] * np.log(8 * p[nz])))
    jsd = 0.5 * float(np.sum(p[nz] * np.log(p[nz] / mid[nz]))) + 0.5 * float(np.sum(u * np.log(u / mid)))
    assert abs(m["kl"] - kl) < 1e-9 and abs(m["jsd"] - jsd) < 1e-9, (m, kl, jsd)
    assert 0 <= m["jsd"] <= math.log(2)
PY

expect_bad() {  # expect_bad NAME NEEDLE NP SETS...: exit 2, one gantry line containing NEEDLE (mpirun adds its own)
  local name=$1 needle=$2 np=$3
  shift 3
  mpirun -np "$np" "$GANTRY" train --config "$repo/configs/pacgan_ring8.toml" --run-dir bad --quiet "$@" >bad.out 2>bad.err
  local rc=$?
  [[ $rc == 2 && $(grep -c '^gantry:' bad.err) == 1 ]] && grep -qF -- "$needle" bad.err ||
    fail "$name: rc $rc, stderr: $(cat bad.err)"
}
expect_bad "pack not dividing the batch" "model.pack 3: data.batch and train.g_batch per rank (50, 50)" 2 \
  --set model.pack=3
expect_bad "pack with a gradient penalty" "model.pack > 1 does not combine with reg.wgan_gp" 1 \
  --set model.pack=2 --set reg.wgan_gp=true
expect_bad "pool smaller than a batch" "data.mixture_pool 50 is smaller than data.batch 100" 1 \
  --set data.mixture_pool=50
expect_bad "maxout on a conv D" "d_activation = \"maxout\" is for model.arch = \"mlp\"" 1 \
  --set model.arch=dcgan --set model.resolution=28 --set model.channels=1 --set data.mixture= \
  --set data.mixture_pool=0 --set data.path=none.h5 --set model.mlp_init=kaiming_normal
expect_bad "slot forward with stochastic banks" "train.pack_slot_forward with model.pack > 1 needs a G without" 1 \
  --set model.pack=2 --set model.mlp_banks=1
expect_bad "unknown mixture" "pacgan_ring8, pacgan_grid25" 1 --set data.mixture=ring9

echo PASS
