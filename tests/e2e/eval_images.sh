#!/usr/bin/env bash
# The offline feature network and image metrics on Fashion-MNIST:
#  - gantry eval train-classifier reaches >= 90 % on the t10k set (a correctness
#    gate with a fixed seed), and Python's torch.jit.load reads the module back
#    with the same accuracy and its feature_space attribute;
#  - a short DCGAN run, then gantry eval --metrics is,fid,diversity on 1 and 2
#    ranks: the same numbers; reference statistics cached and reused;
#  - bad requests: one line, exit 2.
source "$(dirname "$0")/lib.sh"
PY=${2:?usage: $0 gantry python}
FM=/usr/share/datasets/fashion-mnist
[[ -f $FM/train-images-idx3-ubyte.gz ]] || { echo "SKIP: no $FM (Debian's dataset-fashion-mnist)"; exit 77; }
cd "$WORK"
export GANTRY_CACHE_DIR=$WORK/cache
"$GANTRY" pack idx --images $FM/train-images-idx3-ubyte.gz --labels $FM/train-labels-idx1-ubyte.gz --out train.h5 --quiet >/dev/null || fail "pack train"
"$GANTRY" pack idx --images $FM/t10k-images-idx3-ubyte.gz --labels $FM/t10k-labels-idx1-ubyte.gz --out test.h5 --quiet >/dev/null || fail "pack t10k"
GANTRY_THREADS=2 "$GANTRY" eval train-classifier --data train.h5 --test test.h5 --out clf.pt --name FMNIST --seed 0 \
  >clf.json 2>clf.log || fail "train-classifier: $(tail -3 clf.log)"
"$PY" - clf.json clf.pt $FM <<'PY' || fail "classifier accuracy / TorchScript read-back: $(cat clf.json)"
import gzip, json, sys
import numpy as np
import torch
report, module, fm = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
assert report["test_accuracy"] >= 0.90, report
net = torch.jit.load(module)
assert net.feature_space == "FMNIST" and abs(net.test_accuracy - report["test_accuracy"]) < 1e-12
# Independent read of the idx files (not gantry's packer), gantry's input range [-1, 1].
with gzip.open(f"{fm}/t10k-images-idx3-ubyte.gz") as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
with gzip.open(f"{fm}/t10k-labels-idx1-ubyte.gz") as f:
    y = np.frombuffer(f.read(), np.uint8, offset=8)
with torch.no_grad():
    feats, logits = net(torch.from_numpy(x.astype(np.float32) / 127.5 - 1))
assert feats.shape == (10000, 128) and logits.shape == (10000, 10)
acc = (logits.argmax(1).numpy() == y).mean()
assert abs(acc - report["test_accuracy"]) < 1e-3, (acc, report["test_accuracy"])
PY

mpirun -np 2 "$GANTRY" train --config "$(dirname "$0")/../../configs/fmnist_dcgan.toml" --run-dir r --quiet \
  --set data.path='"train.h5"' --set train.steps=20 --set model.g_width=16 --set model.d_width=16 \
  --set train.checkpoint_every=20 >train.log 2>&1 || fail "training: $(tail -3 train.log)"
for np in 1 2; do
  mpirun -np $np "$GANTRY" eval --run-dir r --metrics is,fid,diversity --count 600 --batch 64 --feature-net clf.pt \
    --reference-count 3000 --no-append >eval$np.json 2>eval$np.log || fail "eval on $np ranks: $(tail -3 eval$np.log)"
done
"$PY" - eval1.json eval2.json <<'PY' || fail "1/2-rank evaluations differ or are malformed"
import json, math, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["FID-FMNIST"]["cached"] is False and b["FID-FMNIST"]["cached"] is True, "reference statistics not reused"
for r in (a, b):
    assert r["feature_space"] == "FMNIST" and r["count"] == 600 and r["FID-FMNIST"]["reference_count"] == 3000
    assert r["FID-FMNIST"]["value"] > 0 and 1 <= r["IS-FMNIST"]["mean"] <= 10, r
    assert r["diversity"]["mean_pairwise_distance"] > 0 and r["diversity"]["R_G"] >= 0
    for k in ("ranks", "seconds"): r.pop(k)
    r["FID-FMNIST"].pop("cached")
assert a == b, (a, b)
PY
[[ ! -e r/metrics.jsonl ]] || ! grep -q '"event":"eval"' r/metrics.jsonl || fail "--no-append appended"

expect_bad() {
  local name=$1; shift
  "$GANTRY" "$@" >bad.out 2>bad.log; local rc=$?
  [[ $rc == 2 && $(wc -l <bad.log) == 1 ]] || fail "$name: rc $rc, stderr: $(cat bad.log)"
}
expect_bad "fid without a network" eval --run-dir r --metrics fid
expect_bad "modes on images" eval --run-dir r --metrics modes
echo junk >junk.pt
expect_bad "junk network" eval --run-dir r --metrics is --feature-net junk.pt
expect_bad "classifier without labels" eval train-classifier --data nowhere.h5 --out x.pt --name X
expect_bad "wrong reference shape" eval --run-dir r --metrics fid --feature-net clf.pt --count 100 --reference nowhere.h5
echo PASS
