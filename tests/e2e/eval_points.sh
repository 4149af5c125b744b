#!/usr/bin/env bash
# gantry eval on a 2-D mixture model: evaluation during training (metrics.jsonl
# and TensorBoard, read back by the tensorboard package),
# `gantry eval --metrics modes,diversity` giving the same numbers on 1, 2 and 3
# ranks for the same checkpoint and seed, the result appended to the run's
# metrics; `gantry sample` writing points as .npy / .csv (read back by numpy,
# with mode coverage recomputed there) and a scatter PNG; bad requests.
source "$(dirname "$0")/lib.sh"
PY=${2:?usage: $0 gantry python}
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$WORK"
mpirun -np 2 "$GANTRY" train --config "$repo/configs/grid25_mlp.toml" --run-dir r --quiet --set train.steps=300 \
  --set eval.every=150 --set eval.count=500 --set log.every=100 --set log.sample_every=300 \
  --set train.checkpoint_every=300 >train.log 2>&1 || fail "training: $(tail -3 train.log)"
[[ $(grep -c '"event":"eval"' r/metrics.jsonl) == 2 ]] || fail "expected evaluations at steps 150 and 300"
[[ -s r/samples/g_ema-000000300.png && -s r/samples/g_ema-000000300.csv ]] || fail "no scatter plot / points at the end"
# The training-time evaluations reach TensorBoard with the numbers of metrics.jsonl.
"$PY" - r <<'PY' || fail "TensorBoard eval scalars"
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1] + "/tensorboard", size_guidance={"scalars": 0})
acc.Reload()
evals = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if '"event":"eval"' in l]
got = {e.step: e.value for e in acc.Scalars("eval/modes_captured")}
assert got == {e["step"]: float(e["modes"]["captured"]) for e in evals}, (got, evals)
assert [e.step for e in acc.Scalars("eval/mean_pairwise_distance")] == [150, 300]
PY

for np in 1 2 3; do
  mpirun -np $np "$GANTRY" eval --run-dir r --metrics modes,diversity --count 1111 --batch 100 --seed 4 --ema \
    >eval$np.json 2>eval$np.log || fail "eval on $np ranks: $(tail -3 eval$np.log)"
done
"$PY" - eval1.json eval2.json eval3.json <<'PY' || fail "1/2/3-rank evaluations differ"
import json, sys
runs = [json.load(open(p)) for p in sys.argv[1:]]
for r in runs:
    assert r["event"] == "eval" and r["step"] == 300 and r["count"] == 1111 and r["net"] == "G_ema", r
    m = r["modes"]
    assert m["total"] == 25 and 0 <= m["captured"] <= 25 and sum(m["histogram"]) <= 1111, m
    r.pop("ranks"); r.pop("seconds")
assert runs[0] == runs[1] == runs[2], runs
PY
[[ $(grep -c '"event":"eval"' r/metrics.jsonl) == 5 ]] || fail "gantry eval did not append its results to metrics.jsonl"
# Standing statistics (G has batch norm here): the same numbers on 1 and 3 ranks (256 rows: uneven shares).
for np in 1 3; do
  mpirun -np $np "$GANTRY" eval --run-dir r --metrics modes --count 1111 --batch 100 --seed 4 --ema --bn-standing 4 \
    --no-append >standing$np.json 2>standing$np.log || fail "standing eval on $np ranks: $(tail -3 standing$np.log)"
done
"$PY" - standing1.json standing3.json <<'PY' || fail "standing statistics: 1/3-rank evaluations differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["bn_standing"] == 4 and a["modes"]["total"] == 25, a
for r in (a, b):
    r.pop("ranks"); r.pop("seconds")
assert a == b, (a, b)
PY
"$GANTRY" eval --run-dir r --metrics modes --count 100 --no-append >g.json 2>g.log || fail "eval of G: $(cat g.log)"
grep -q '"net":"G"' g.json || fail "without --ema, G is evaluated: $(cat g.json)"

"$GANTRY" sample --run-dir r --count 3000 --out pts.npy --ema >/dev/null 2>s.log || fail "sample .npy: $(cat s.log)"
"$GANTRY" sample --run-dir r --count 3000 --out pts.csv --ema >/dev/null 2>s.log || fail "sample .csv: $(cat s.log)"
"$GANTRY" sample --run-dir r --count 3000 --out pts.png --ema >/dev/null 2>s.log || fail "sample .png: $(cat s.log)"
[[ $(head -c 8 pts.png | od -An -tx1 | tr -d ' ') == 89504e470d0a1a0a ]] || fail "pts.png is not a PNG"
"$PY" - pts.npy pts.csv <<'PY' || fail "points files"
import sys
import numpy as np
a = np.load(sys.argv[1])
b = np.loadtxt(sys.argv[2], delimiter=",", skiprows=1)
assert a.shape == (3000, 2) and a.dtype == np.float32, (a.shape, a.dtype)
assert np.allclose(a, b, rtol=1e-6, atol=1e-6)
PY
# Real samples of the mixture through the same file path give full coverage (independent check in numpy).
"$PY" - <<'PY' || fail "numpy mode coverage"
import numpy as np
rng = np.random.default_rng(0)
centers = np.array([(2.0 * i, 2.0 * j) for i in range(-2, 3) for j in range(-2, 3)])
x = centers[rng.integers(0, 25, 5000)] + 0.05 * rng.standard_normal((5000, 2))
d = np.linalg.norm(x[:, None, :] - centers[None], axis=2)
hq = d.min(1) <= 0.15
assert len(set(d.argmin(1)[hq])) == 25 and abs(hq.mean() - (1 - np.exp(-4.5))) < 0.01
PY

expect_bad() {  # expect_bad NAME ARGS...: exit 2 and one line naming the problem
  local name=$1; shift
  "$GANTRY" "$@" >bad.out 2>bad.log; local rc=$?
  [[ $rc == 2 && $(wc -l <bad.log) == 1 ]] || fail "$name: rc $rc, stderr: $(cat bad.log)"
}
expect_bad "unknown metric" eval --run-dir r --metrics modes,bogus
expect_bad "fid on points" eval --run-dir r --metrics fid --feature-net pts.npy
expect_bad "no metrics" eval --run-dir r
expect_bad "negative standing batches" eval --run-dir r --metrics modes --bn-standing -1
expect_bad "no run" eval --run-dir nowhere --metrics modes
expect_bad "bad points extension" sample --run-dir r --count 10 --out pts.txt
echo PASS
