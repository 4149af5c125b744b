#!/usr/bin/env bash
# gantry sample / export / inspect --checkpoint on a checkpoint of a short
# run: PNG grid and per-image PNGs, safetensors read back by the safetensors
# Python package (names and shapes as inspect reports them), TensorBoard
# event files read by the tensorboard package, bad inputs; a checkpoint
# written by an earlier gantry (tests/fixtures) still loads, resumes and is
# written back with every entry unchanged.
FIXTURES=$(cd "$(dirname "$0")/../fixtures" && pwd)
source "$(dirname "$0")/lib.sh"
PY=${2:?usage: $0 gantry python}
cd "$WORK"
"$GANTRY" synth --shape 1,28,28 --count 64 --out d.h5 --quiet >/dev/null || fail "synth"
mpirun -np 2 "$GANTRY" train --run-dir r --quiet --set model.arch=dcgan --set model.resolution=28 --set model.channels=1 \
  --set model.g_width=8 --set model.d_width=8 --set data.path=d.h5 --set data.batch=8 --set train.steps=2 \
  --set train.checkpoint_every=1 --set log.every=1 >train.log 2>&1 || fail "training: $(tail -3 train.log)"
ck=r/ckpt-000000002.pt

"$GANTRY" sample --run-dir r --count 10 --out grid.png --ema >sample.json 2>sample.log || fail "sample: $(cat sample.log)"
grep -q '"step":2' sample.json || fail "sample did not use the newest checkpoint: $(cat sample.json)"
[[ $(head -c 8 grid.png | od -An -tx1 | tr -d ' ') == 89504e470d0a1a0a ]] || fail "grid.png is not a PNG"
"$GANTRY" sample --checkpoint r/ckpt-000000001.pt --count 5 --out each/ >/dev/null || fail "sample to a directory"
[[ $(ls each/*.png | wc -l) == 5 ]] || fail "expected 5 PNGs, got $(ls each | wc -l)"

"$GANTRY" inspect --checkpoint $ck >inspect.json || fail "inspect --checkpoint"
"$GANTRY" export --checkpoint $ck --net G_ema --out g.safetensors >/dev/null || fail "export"
"$GANTRY" export --checkpoint $ck --net G_ema --out g2.safetensors >/dev/null || fail "export again"
cmp -s g.safetensors g2.safetensors || fail "export is not deterministic"
"$PY" - g.safetensors inspect.json <<'PY' || fail "safetensors check"
import json, sys
import numpy as np
from safetensors import safe_open
path, insp = sys.argv[1], json.load(open(sys.argv[2]))
want = {k[len("G_ema/"):].replace("/", "."): v for k, v in insp["tensors"].items() if k.startswith("G_ema/")}
with safe_open(path, framework="numpy") as f:
    names = set(f.keys())
    assert names == set(want), (sorted(names ^ set(want)))[:5]
    for k in names:
        t = f.get_tensor(k)
        assert list(t.shape) == want[k]["shape"], (k, t.shape, want[k]["shape"])
        assert np.isfinite(t.astype(np.float64)).all(), k
    meta = f.metadata()
    assert meta["net"] == "G_ema" and meta["step"] == "2", meta
print(f"safetensors: {len(names)} tensors match inspect")
PY
python3 -c "import json,sys; j=json.load(open('inspect.json')); assert j['step']==2 and j['world_size']==2, j" \
  || fail "inspect fields: $(head -c 300 inspect.json)"

# TensorBoard's own reader sees the scalars (every step) and the sample grids.
"$PY" - r/tensorboard <<'PY' || fail "TensorBoard event file check"
import sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1], size_guidance={"images": 0, "scalars": 0})
acc.Reload()
tags = acc.Tags()
for t in ("loss_d", "loss_g", "d_real", "d_fake", "img_s", "time_d_s", "grad_norm_g"):
    assert t in tags["scalars"], (t, tags["scalars"])
steps = [e.step for e in acc.Scalars("loss_d")]
assert steps == [1, 2], steps
assert all(abs(e.value) < 1e6 for e in acc.Scalars("loss_g"))
for t in ("samples/g", "samples/g_ema"):
    assert t in tags["images"], (t, tags["images"])
    img = acc.Images(t)[-1]
    assert img.step == 2 and img.width == 8 * 30 + 2 and img.height == 8 * 30 + 2, (img.step, img.width, img.height)
    assert img.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"
print("tensorboard: scalars and images read back")
PY

# An old checkpoint (2-rank MLP run with historical averaging, written before
# the layout was listed in train/checkpoint_layout.h): inspect, sample and
# resume it; resuming at its last step writes it back, and every entry must
# come back with the same key, shape and value.
old=$FIXTURES/ckpt-v1-mlp-ha.pt
"$GANTRY" inspect --checkpoint "$old" >old.json || fail "inspect of the old checkpoint"
"$PY" - old.json <<'PY' || fail "old checkpoint's inspect"
import json, sys
j = json.load(open(sys.argv[1]))
assert (j["step"], j["world_size"], j["images_seen"]) == (3, 2, 48), j
keys = j["tensors"].keys()
for part in ("G/", "D/", "G_ema/", "opt_g/state/", "opt_d/state/", "ha_g/", "ha_d/"):
    assert any(k.startswith(part) for k in keys), part
PY
"$GANTRY" sample --checkpoint "$old" --count 7 --out old.csv >/dev/null 2>sample.log || fail "sample of the old checkpoint: $(cat sample.log)"
[[ $(wc -l <old.csv) -ge 7 ]] || fail "old.csv has $(wc -l <old.csv) lines"
mkdir old_run && cp "$old" old_run/ckpt-000000003.pt
mpirun -np 2 "$GANTRY" train --config "$FIXTURES/ckpt-v1-mlp-ha.toml" --run-dir old_run --quiet >resume.log 2>&1 ||
  fail "resuming the old checkpoint: $(tail -3 resume.log)"
grep -q "resuming from .*step 3" resume.log || fail "the old checkpoint was not resumed: $(cat resume.log)"
"$GANTRY" inspect --checkpoint old_run/ckpt-000000003.pt >resaved.json || fail "inspect of the re-saved checkpoint"
"$PY" - old.json resaved.json <<'PY' || fail "the re-saved old checkpoint differs"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
ta, tb = a["tensors"], b["tensors"]
differ = sorted(k for k in ta.keys() | tb.keys() if ta.get(k) != tb.get(k))
assert not differ, differ[:5]
PY
mpirun -np 1 "$GANTRY" train --config "$FIXTURES/ckpt-v1-mlp-ha.toml" --run-dir old_run --quiet --set train.steps=5 \
  >resume.log 2>&1 || fail "training on from the old checkpoint: $(tail -3 resume.log)"
[[ -f old_run/ckpt-000000005.pt ]] || fail "no step-5 checkpoint after training on from the old one"

# Bad inputs: one line, exit 2.
expect_error() {
  local pattern=$1
  shift
  "$@" >out.log 2>err.log
  local rc=$?
  [[ $rc == 2 ]] || fail "'$*' exited $rc, expected 2"
  grep -q -- "$pattern" err.log || fail "'$*' did not print '$pattern': $(cat err.log)"
}
expect_error "nope.pt: no such file" "$GANTRY" export --checkpoint nope.pt --net G --out x.safetensors
head -c 5000 $ck >trunc.pt
expect_error "trunc.pt: no checkpoint footer" "$GANTRY" inspect --checkpoint trunc.pt
mkdir empty
expect_error "empty: no valid checkpoint" "$GANTRY" sample --run-dir empty --out x.png
expect_error "exactly one of --run-dir and --checkpoint" "$GANTRY" sample --out x.png
echo PASS
