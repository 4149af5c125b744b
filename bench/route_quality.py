#!/usr/bin/env python3
"""Where a 2-D generator with stochastic banks puts its off-mode samples, route by route.

A G with `model.mlp_banks` b > 0 draws one of K filter sets per bank layer for each sample, so it is an
ensemble of K^b routes, each a continuous map of the Gaussian z. A route that covers one mode can put all of
its samples near it; a route that covers two or more must cross the gaps between them, and the samples it
puts there are what the PacGAN protocol's high-quality share counts against (within 3σ of the nearest mode).
This reads a checkpoint's G (exported by `gantry export --format torchscript`, so nothing here reimplements
the model), draws N samples with the routes gantry would draw for samples 0..N-1, and reports, per class of
route (how many modes hold ≥ --mode-share of its samples), the routes' share of all samples, their
off-mode share, and what they contribute to the total off-mode share; plus the routes that sit mostly
off every mode (stray routes), each with its filter sets and the strays beside it. JSON on stdout, a
short summary on stderr.

Before measuring it checks its labelling: perturbing one filter set of each bank layer must change exactly
the samples it labelled with that set.

  python3 bench/route_quality.py --checkpoint RUN/ckpt-000100000.pt [--net G_ema] [--count 50000]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import warnings

import torch

warnings.filterwarnings("ignore", message=".*torch.jit.load.*deprecated")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def mixture(g):
    """Mode centres and σ of the exported G's data, as `gantry export` writes them (common/mixture2d.h)."""
    if not hasattr(g, "mixture_centers"):
        sys.exit("route_quality: the export carries no 2-D mixture (a G not trained on data.mixture, "
                 "or a gantry from before exports carried it)")
    return g.mixture_centers.to(torch.float32), float(g.mixture_sigma)


def banks(g):
    """The bank layers in route order, each with its filter-set count."""
    found = []
    for name, child in g.named_children():
        if name.startswith("bank"):
            sets = [n for n, _ in child.named_children() if n.startswith("set")]
            found.append((int(name[4:]), child, len(sets)))
    if not found:
        sys.exit("route_quality: this generator has no stochastic banks (model.mlp_banks = 0)")
    return [(child, k) for _, child, k in sorted(found, key=lambda t: t[0])]


def check_labels(g, layers, z, routes, step):
    """Perturb set 0 of each bank layer: exactly the samples labelled with it must move."""
    with torch.no_grad():
        base = g(z, step, 0)
        for i, (bank, _) in enumerate(layers):
            params = list(getattr(bank, "set0").parameters())
            saved = [p.clone() for p in params]
            for p in params:
                p.add_(0.5)
            moved = (g(z, step, 0) - base).abs().amax(1) > 0
            for p, s in zip(params, saved):
                p.copy_(s)
            labelled = routes[i] == 0
            if not torch.equal(moved, labelled):
                sys.exit(f"route_quality: bank {i}'s route labels disagree with the generator "
                         f"({int((moved != labelled).sum())} samples): the export's route draw changed?")


def sets_of(route, sets_per_layer):
    """The filter set of each bank layer that a route index (mixed radix, first layer most significant) uses."""
    picked = []
    for k in reversed(sets_per_layer):
        picked.append(route % k)
        route //= k
    return picked[::-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--net", default="G_ema", choices=["G", "G_ema"])
    ap.add_argument("--count", type=int, default=50000, help="samples drawn (default 50000)")
    ap.add_argument("--seed", type=int, default=0, help="seed of z")
    ap.add_argument("--step", type=int, default=0, help="the route draw's step (default 0)")
    ap.add_argument("--mode-share", type=float, default=0.05,
                    help="a route covers a mode holding at least this share of its samples (default 0.05)")
    ap.add_argument("--gantry", default=os.path.join(REPO, "build", "gantry"))
    a = ap.parse_args()
    if a.count < 1:
        sys.exit("route_quality: --count must be at least 1")
    if not os.path.isfile(a.checkpoint):
        sys.exit(f"route_quality: no checkpoint {a.checkpoint}")

    with tempfile.TemporaryDirectory() as tmp:
        pt = os.path.join(tmp, "g.pt")
        try:
            r = subprocess.run([a.gantry, "export", "--checkpoint", a.checkpoint, "--net", a.net, "--format",
                                "torchscript", "--out", pt], capture_output=True, text=True)
        except OSError as e:
            sys.exit(f"route_quality: cannot run gantry ({a.gantry}): {e.strerror} (--gantry)")
        if r.returncode != 0:
            sys.exit(f"route_quality: gantry export failed: {r.stderr.strip().splitlines()[-1:]}")
        g = torch.jit.load(pt)
    g.eval()
    centres, sigma = mixture(g)
    layers = banks(g)
    z = torch.randn(a.count, g.z_dim, generator=torch.Generator().manual_seed(a.seed))
    with torch.no_grad():
        # The same draw the generator's forward makes for samples 0..count-1 at this step.
        routes = [g.draw_routes(a.step, i, 0, a.count, k) for i, (_, k) in enumerate(layers)]
        check_labels(g, layers, z[: min(a.count, 4096)], [r[:4096] for r in routes], a.step)
        x = g(z, a.step, 0)
    dist, nearest = torch.cdist(x, centres).min(1)
    good = dist <= 3 * sigma  # PacGAN's high quality: within 3σ of the nearest mode
    route = torch.zeros(a.count, dtype=torch.long)
    for r, (_, k) in zip(routes, layers):
        route = route * k + r
    n_routes = math.prod(k for _, k in layers)

    classes, strays = {}, []
    for rid in range(n_routes):
        m = route == rid
        n = int(m.sum())
        if n == 0:
            continue
        hist = torch.bincount(nearest[m & good], minlength=len(centres))
        covered = int((hist >= a.mode_share * n).sum())
        off = int((~good[m]).sum())
        c = classes.setdefault(covered, {"routes": 0, "samples": 0, "off_mode": 0})
        c["routes"] += 1
        c["samples"] += n
        c["off_mode"] += off
        if off > n / 2:
            centre = x[m].mean(0)
            strays.append({"route": rid, "sets": sets_of(rid, [k for _, k in layers]), "share": n / a.count,
                           "off_mode_share": off / n,
                           "mean": [round(v, 3) for v in centre.tolist()],
                           "std": [round(v, 3) for v in x[m].std(0).tolist()] if n > 1 else [0.0, 0.0],
                           "nearest_mode_distance": round(float(torch.cdist(centre[None], centres).min()), 3)})
    # Strays that sit together (means within 3σ). With several bank layers a route is a product of filter
    # sets: when two sets of one layer become alike, every pair of routes that differ only there lands on one
    # point (docs/RESULTS.md, "Why the strays stay").
    for st in strays:
        st["twins"] = [o["route"] for o in strays if o is not st
                       and math.dist(o["mean"], st["mean"]) <= 3 * sigma]
    out = {
        "checkpoint": a.checkpoint, "net": a.net, "step": int(g.step), "count": a.count, "routes": n_routes,
        "bank_sets": [k for _, k in layers], "high_quality_share": float(good.float().mean()),
        "modes_captured": int(torch.unique(nearest[good]).numel()), "modes_total": len(centres),
        "by_modes_covered": {
            str(k): {"routes": c["routes"], "sample_share": c["samples"] / a.count,
                     "off_mode_share": c["off_mode"] / c["samples"], "off_mode_of_all": c["off_mode"] / a.count}
            for k, c in sorted(classes.items())},
        "strays": strays,
    }
    print(json.dumps(out, indent=1))
    print(f"{a.checkpoint}: {out['high_quality_share']:.1%} high quality over {a.count} samples, "
          f"{out['modes_captured']}/{len(centres)} modes, {n_routes} routes", file=sys.stderr)
    for k, c in out["by_modes_covered"].items():
        print(f"  routes on {k} mode(s): {c['routes']:4d}, {c['sample_share']:.1%} of samples, "
              f"{c['off_mode_share']:.1%} of theirs off-mode = {c['off_mode_of_all']:.1%} of all", file=sys.stderr)
    for st in strays:
        print(f"  stray route {st['route']} (sets {st['sets']}) at {st['mean']}, {st['nearest_mode_distance']} from "
              f"a mode{', with routes ' + str(st['twins']) if st['twins'] else ''}", file=sys.stderr)


if __name__ == "__main__":
    main()
