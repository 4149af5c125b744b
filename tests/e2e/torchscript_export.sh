#!/usr/bin/env bash
# gantry export --format torchscript: for every generator family (DCGAN,
# SGAN's stochastic banks, SNGAN's CNN, ResNet, the 2-D MLP with and without
# banks) and every activation / weight normalisation a generator can have
# (BN, VBN, LN, none; SN, WN), Python loads the exported G or G_ema with
# torch.jit.load alone and, called with the noise gantry sample draws,
# produces exactly (torch.equal) the values gantry sample writes as .npy for
# the same calls (gantry sample draws 256 rows at a time; the second call
# says where it starts), and the same values up to rounding in one call.
source "$(dirname "$0")/lib.sh"
PY=${2:?usage: $0 gantry python}
cd "$WORK"
"$GANTRY" synth --shape 1,28,28 --count 32 --out g28.h5 --quiet >/dev/null || fail "synth 28"
"$GANTRY" synth --shape 3,32,32 --count 32 --out c32.h5 --quiet >/dev/null || fail "synth 32"

# name | data | net | --set overrides (two training steps: BN statistics, EMA and SN vectors move)
cases=(
  "dcgan28_bn|g28.h5|G_ema|model.arch=dcgan model.resolution=28 model.channels=1 model.g_norm=bn"
  "dcgan32_vbn_sn|c32.h5|G|model.arch=dcgan model.resolution=32 model.g_norm=vbn model.g_weight_norm=sn model.vbn_reference=6"
  "sgan28_bn_k3|g28.h5|G_ema|model.arch=sgan model.resolution=28 model.channels=1 model.g_norm=bn model.sdeconv_sets=3 model.sdeconv_layers=2"
  "sgan32_vbn_k5|c32.h5|G|model.arch=sgan model.resolution=32 model.g_norm=vbn model.sdeconv_sets=5 model.sdeconv_layers=3 model.vbn_reference=4"
  "sngan32_ln_wn|c32.h5|G_ema|model.arch=sngan_cnn model.resolution=32 model.g_norm=ln model.g_weight_norm=wn"
  "resnet32_bn_sn|c32.h5|G_ema|model.arch=resnet model.resolution=32 model.g_norm=bn model.g_weight_norm=sn"
  "resnet32_vbn|c32.h5|G|model.arch=resnet model.resolution=32 model.g_norm=vbn model.vbn_reference=3"
  "mlp_bn|ring8|G_ema|model.arch=mlp model.z_dim=2 model.mlp_hidden=16 model.g_norm=bn"
  "mlp_banks_none|ring8|G|model.arch=mlp model.z_dim=3 model.mlp_hidden=16 model.mlp_banks=2 model.sdeconv_sets=6 model.g_norm=none"
  "mlp_banks_vbn|ring8|G_ema|model.arch=mlp model.z_dim=2 model.mlp_hidden=16 model.mlp_banks=1 model.sdeconv_sets=4 model.g_norm=vbn model.vbn_reference=5"
)
list=()
for c in "${cases[@]}"; do
  IFS='|' read -r name data net sets <<<"$c"
  args=()
  for s in $sets model.g_width=8 model.d_width=8 model.z_dim=16 train.steps=2 train.checkpoint_every=2 \
    train.ema_start=0 data.batch=8 log.every=1; do
    [[ $s == model.z_dim=16 && $sets == *model.z_dim=* ]] && continue
    args+=(--set "$s")
  done
  if [[ $data == ring8 ]]; then args+=(--set data.mixture=ring8); else args+=(--set "data.path=$data"); fi
  "$GANTRY" train --run-dir "$name" --quiet "${args[@]}" >"$name.log" 2>&1 || fail "$name: training: $(tail -3 "$name.log")"
  ck="$name/ckpt-000000002.pt"
  [[ $net == G_ema ]] && ema=--ema || ema=
  # 300 rows: two chunks of gantry sample (256 + 44), the second starting at sample 256.
  "$GANTRY" sample --checkpoint "$ck" $ema --count 300 --seed 11 --out "$name.npy" >/dev/null 2>"$name.sample.log" ||
    fail "$name: sample: $(cat "$name.sample.log")"
  "$GANTRY" export --checkpoint "$ck" --net "$net" --format torchscript --out "$name.pt" >"$name.export.json" \
    2>"$name.export.log" || fail "$name: export: $(cat "$name.export.log")"
  list+=("$name")
done

"$PY" - "${list[@]}" <<'PY' || fail "TorchScript generators differ from gantry sample"
import sys
import warnings
import numpy as np
import torch

warnings.filterwarnings("ignore", message=".*torch.jit.load.*deprecated")
for name in sys.argv[1:]:
    g = torch.jit.load(f"{name}.pt")  # nothing of gantry: torch alone
    want = torch.from_numpy(np.load(f"{name}.npy"))
    gen = torch.Generator().manual_seed(11)
    z = torch.cat([torch.randn(256, g.z_dim, generator=gen), torch.randn(44, g.z_dim, generator=gen)])
    with torch.no_grad():
        # gantry sample's calls: rows [0, 256) from sample 0, rows [256, 300) from sample 256.
        got = torch.cat([g(z[:256]), g(z[256:], 0, 256)])
        assert got.shape == want.shape, (name, got.shape, want.shape)
        assert torch.equal(got, want), (name, (got - want).abs().max().item())
        # One call for all rows: the same routes and per-sample VBN, so equal up to the
        # kernels' batch-size-dependent rounding.
        assert torch.allclose(g(z), want, rtol=0, atol=1e-5), name
        # The noise matters, and so (for banks) does the route draw.
        assert not torch.equal(g(z[:256].flip(0)), want[:256]), name
        if "banks" in name or "sgan" in name:
            assert not torch.equal(g(z[:256], 1), want[:256]), f"{name}: routes do not depend on the step"
    assert g.step == 2 and g.net in ("G", "G_ema") and "arch" in g.config, name
    if name.startswith("mlp"):
        # ring8's geometry (radius 2, σ 0.02, a mode every 45° from angle 0), computed here, not read from gantry.
        c = g.mixture_centers
        angles = torch.arange(8, dtype=torch.float64) * (2 * torch.pi / 8)
        ring = 2.0 * torch.stack([angles.cos(), angles.sin()], 1)
        assert g.mixture == "ring8" and c.shape == (8, 2) and torch.allclose(c, ring, atol=1e-12), (name, c)
        assert abs(g.mixture_sigma - 0.02) < 1e-12, (name, g.mixture_sigma)
    else:
        assert not hasattr(g, "mixture_centers"), f"{name}: an image G carries a 2-D mixture"
    print(f"{name}: {tuple(got.shape)} equal to gantry sample")
PY

# Only generators export as TorchScript; a bad --format is one line.
"$GANTRY" export --checkpoint dcgan28_bn/ckpt-000000002.pt --net D --format torchscript --out d.pt >out.txt 2>&1 &&
  fail "exporting D as TorchScript succeeded"
grep -q "generator" out.txt && [[ $(wc -l <out.txt) == 1 ]] || fail "D as TorchScript: $(cat out.txt)"
"$GANTRY" export --checkpoint dcgan28_bn/ckpt-000000002.pt --format onnx --out g.onnx >out.txt 2>&1 &&
  fail "--format onnx succeeded"
[[ $(wc -l <out.txt) == 1 ]] || fail "bad --format: $(cat out.txt)"
[[ ! -e d.pt && ! -e g.onnx ]] || fail "a refused export left a file"
# bench/route_quality.py reads an exported 2-D G with banks route by route. Its own check (perturbing one
# filter set must move exactly the samples it labelled with it) makes it exit non-zero if its route
# labels disagree with the generator; here its accounting must add up, and a G without banks is refused.
ROUTES="$(dirname "$0")/../../bench/route_quality.py"
for name in mlp_banks_none mlp_banks_vbn; do
  "$PY" "$ROUTES" --checkpoint "$name/ckpt-000000002.pt" --net G --count 3000 --gantry "$GANTRY" \
    >"$name.routes.json" 2>"$name.routes.log" || fail "route_quality $name: $(tail -2 "$name.routes.log")"
done
"$PY" - <<'PY' || fail "route_quality's accounting"
import json
for name, routes, sets in (("mlp_banks_none", 36, [6, 6]), ("mlp_banks_vbn", 4, [4])):
    r = json.load(open(f"{name}.routes.json"))
    assert r["routes"] == routes and r["bank_sets"] == sets and r["count"] == 3000, (name, r["routes"], r["bank_sets"])
    classes = r["by_modes_covered"].values()
    assert sum(c["routes"] for c in classes) <= routes, name
    assert abs(sum(c["sample_share"] for c in classes) - 1) < 1e-9, name
    # Every off-mode sample is in exactly one class: the classes' parts add up to the whole.
    assert abs(sum(c["off_mode_of_all"] for c in classes) - (1 - r["high_quality_share"])) < 1e-9, name
    assert 0 <= r["modes_captured"] <= r["modes_total"] == 8, name
    # A 2-step G puts most routes off the modes. Each stray names its filter sets (the route index in mixed
    # radix, first bank most significant) and its twins: the other strays within 3σ (ring8: σ 0.02).
    strays = {s["route"]: s for s in r["strays"]}
    assert len(strays) >= routes // 2, (name, len(strays))
    for s in strays.values():
        index = 0
        for picked, k in zip(s["sets"], sets):
            assert 0 <= picked < k, (name, s)
            index = index * k + picked
        assert index == s["route"] and len(s["sets"]) == len(sets), (name, s)
        near = sorted(o for o, t in strays.items() if o != s["route"]
                      and sum((a - b) ** 2 for a, b in zip(s["mean"], t["mean"])) ** 0.5 <= 0.06)
        assert sorted(s["twins"]) == near, (name, s["route"], s["twins"], near)
PY
"$PY" "$ROUTES" --checkpoint mlp_bn/ckpt-000000002.pt --gantry "$GANTRY" >out.txt 2>&1 && fail "route_quality without banks succeeded"
grep -q "no stochastic banks" out.txt && [[ $(wc -l <out.txt) == 1 ]] || fail "route_quality without banks: $(cat out.txt)"
echo "PASS torchscript_export (${#list[@]} generators; route_quality)"
