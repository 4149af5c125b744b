#!/usr/bin/env bash
# Writes the fuzzers' seed corpus (fuzz/corpus/<target>/): small valid inputs of
# every kind each reader takes, made by gantry itself and by independent tools
# (Pillow for images, h5py for a plain 1.8-format HDF5 array). Run from the
# repo root after a build; the corpus in the repo was made by this script.
#   fuzz/make_corpus.sh [build/gantry] [python]
set -euo pipefail
gantry=${1:-build/gantry}
python=${2:-${GANTRY_HOME:-$HOME/.local/share/gantry}/venv/bin/python}
out=fuzz/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$out"
mkdir -p "$out"/{idx,image,h5,config,checkpoint}

"$python" - "$out" <<'PY'
import gzip, io, struct, sys
import h5py, numpy as np
from PIL import Image
out = sys.argv[1]
rng = np.random.default_rng(0)
def idx(dims, data):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)
imgs = rng.integers(0, 256, size=(3, 4, 4), dtype=np.uint8)
for name, raw in {"images3": idx((3, 4, 4), imgs.tobytes()), "labels3": idx((3,), [1, 2, 3])}.items():
    open(f"{out}/idx/{name}", "wb").write(raw)
    open(f"{out}/idx/{name}.gz", "wb").write(gzip.compress(raw, mtime=0))
# The first byte picks the output size and channels (fuzz/fuzz_image.cpp).
rgb = rng.integers(0, 256, size=(12, 10, 3), dtype=np.uint8)
for name, img, fmt, kw, mode in [
        ("rgb.png", Image.fromarray(rgb), "PNG", {}, 0x48),
        ("gray.png", Image.fromarray(rgb[..., 0]), "PNG", {}, 0x07),
        ("rgba-interlaced.png", Image.fromarray(rgb).convert("RGBA"), "PNG", {"interlace": 1}, 0x45),
        ("palette.png", Image.fromarray(rgb).convert("P"), "PNG", {}, 0x4f),
        ("gray16.png", Image.fromarray((rgb[..., 0].astype(np.uint16) * 257)), "PNG", {}, 0x09),
        ("rgb.jpg", Image.fromarray(rgb), "JPEG", {"quality": 90}, 0x4c),
        ("progressive.jpg", Image.fromarray(rgb), "JPEG", {"progressive": True}, 0x03),
        ("gray.jpg", Image.fromarray(rgb[..., 0]), "JPEG", {}, 0x10)]:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    open(f"{out}/image/{name}", "wb").write(bytes([mode]) + buf.getvalue())
with h5py.File(f"{out}/h5/plain-h5py.h5", "w") as f:  # another tool's plain array, HDF5 1.8 format
    f["images"] = rng.integers(0, 256, size=(2, 1, 3, 3), dtype=np.uint8)
PY

"$gantry" synth --shape 1,4,4 --count 3 --seed 1 --out "$out/h5/synth.h5" --quiet >/dev/null
"$gantry" synth --shape 3,5,4 --count 4 --seed 2 --gzip 6 --chunk-images 2 --out "$out/h5/synth-gzip.h5" --quiet >/dev/null
"$gantry" pack idx --images "$out/idx/images3.gz" --labels "$out/idx/labels3.gz" --out "$out/h5/labels.h5" --quiet >/dev/null

# Configs: the shipped ones on the datasets fuzz_config makes at start.
for c in configs/*.toml; do
  name=$(basename "$c")
  sed -e 's#^path = .*#path = "/tmp/gantry-fuzz/gray28.h5"#' "$c" >"$out/config/$name"
  if grep -q 'resolution = 32' "$c"; then sed -i 's#gray28#rgb32#' "$out/config/$name"; fi
done
printf '#--set\nmodel.arch=mlp\ndata.mixture=ring8\nmodel.data_dim=2\n' >"$out/config/only-set"
cp "$out/config/fmnist_dcgan.toml" "$out/config/dcgan-with-set"
printf '\n#--set\ntrain.loss=hinge\nreg.r1_gamma=1\ndata.batch=16\n' >>"$out/config/dcgan-with-set"

# A checkpoint of a small MLP: as a file (mode 0) and as a payload given a valid footer (mode 1).
cat >"$tmp/tiny.toml" <<'TOML'
[model]
arch = "mlp"
z_dim = 2
mlp_hidden = 8
mlp_depth = 2
data_dim = 2
[data]
mixture = "ring8"
batch = 8
[train]
steps = 1
checkpoint_every = 1
[log]
sample_every = 1000
TOML
GANTRY_THREADS=1 "$gantry" train --config "$tmp/tiny.toml" --run-dir "$tmp/run" --quiet >/dev/null
ckpt=$(ls "$tmp"/run/ckpt-*.pt | head -1)
{ printf '\0'; cat "$ckpt"; } >"$out/checkpoint/file"
# Mode 1: the config saved inside (fuzz/fuzz_checkpoint.cpp): the run's own, and a DCGAN's.
{ printf '\1'; cat "$tmp/run/config.toml"; } >"$out/checkpoint/config-mlp"
{ printf '\1'; cat configs/fmnist_dcgan.toml; } >"$out/checkpoint/config-dcgan"
# GANTRY_FUZZ_TORCH_PAYLOAD=1 mode: the LibTorch archive itself.
mkdir -p fuzz/corpus-torch-payload
{ printf '\1'; head -c -24 "$ckpt"; } >fuzz/corpus-torch-payload/payload
du -sh "$out"
