#!/usr/bin/env python3
"""Checks that bench/torch_reference.py builds the same networks as gantry:
for each workload, `gantry train` runs 1 step (tiny batches: shapes do not
depend on them) and writes a checkpoint; `gantry inspect --checkpoint` lists
every tensor's shape; the reference, given the run's resolved config.toml,
dumps its G and D shapes (--dump-shapes); G's and D's parameters (and
buffers: BN running statistics, SN vectors) must match name for name.

  bench/peer_check_shapes.py [--workloads dcgan,sngan_pgn,resnet128_pgn] [--set KEY=VALUE ...]
                             [--build build] [--python VENV_PYTHON] [--work runs/peer_bench]

Prints one JSON line per workload; exit 0 when all match, 1 with the
differences otherwise (or when a run fails), 2 on bad arguments.
"""
import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_workloads as pw  # noqa: E402

# Buffer names in gantry's modules (everything else in G/ and D/ is a parameter).
BUFFER_SUFFIXES = ("running_mean", "running_var", "sn_u", "sn_v", "vbn_z_ref")


def gantry_shapes(inspect_json):
    """{"G": {"params": {...}, "buffers": {...}}, "D": ...} from `gantry inspect`
    tensor keys such as "G/norm0/bn/weight" (nested archives joined by "/")."""
    nets = {n: {"params": {}, "buffers": {}} for n in ("G", "D")}
    for key, info in inspect_json["tensors"].items():
        net, _, name = key.partition("/")
        if net not in nets:  # G_ema, optimizer state, counters
            continue
        name = name.replace("/", ".")
        kind = "buffers" if name.rsplit(".", 1)[-1] in BUFFER_SUFFIXES else "params"
        nets[net][kind][name] = list(info["shape"])
    return nets


def differences(gantry, reference):
    out = []
    for net in ("G", "D"):
        for kind in ("params", "buffers"):
            a, b = gantry[net][kind], reference[net][kind]
            for name in sorted(set(a) | set(b)):
                if name not in b:
                    out.append(f"{net} {kind[:-1]} {name} {a[name]}: missing in the reference")
                elif name not in a:
                    out.append(f"{net} {kind[:-1]} {name} {b[name]}: only in the reference")
                elif a[name] != b[name]:
                    out.append(f"{net} {kind[:-1]} {name}: gantry {a[name]}, reference {b[name]}")
    return out


def check(name, args, env):
    w = pw.WORKLOADS[name]
    gantry = os.path.join(args.build, "gantry")
    data = pw.data_file(name, gantry, os.path.join(args.work, "data"), env, count=16)
    run_dir = os.path.join(args.work, f"shapes-{name}")
    shutil.rmtree(os.path.join(pw.ROOT, run_dir), ignore_errors=True)
    os.makedirs(os.path.join(pw.ROOT, run_dir))
    sets = w["sets"] + args.set + [f'data.path="{data}"', "data.in_memory=true", "train.steps=1", "train.n_dis=1",
                        "data.batch=2", "train.g_batch=2", "log.every=1", "log.sample_count=1"]
    log = os.path.join(pw.ROOT, run_dir, "train.log")
    pw.run_logged(pw.gantry_train_cmd(gantry, 1, w["config"], run_dir, sets), log, env)
    ckpt = pw.newest_checkpoint(run_dir)
    text = pw.run_logged([gantry, "inspect", "--checkpoint", ckpt], os.path.join(pw.ROOT, run_dir, "inspect.log"), env)
    theirs = gantry_shapes(pw.last_json(text))
    dump = os.path.join(run_dir, "reference-shapes.json")
    pw.run_logged([args.python, "bench/torch_reference.py", "--config", os.path.join(run_dir, "config.toml"),
                   "--steps", "0", "--dump-shapes", dump], os.path.join(pw.ROOT, run_dir, "reference.log"), env)
    with open(os.path.join(pw.ROOT, dump)) as f:
        ours = json.load(f)
    diff = differences(theirs, ours)
    os.remove(ckpt)  # up to ~1 GB for resnet128 (G, D, G_ema, Adam states)
    counts = {f"{n}_{k}": len(theirs[n][k]) for n in ("G", "D") for k in ("params", "buffers")}
    elements = {f"{n}_param_elements": sum(_numel(s) for s in theirs[n]["params"].values()) for n in ("G", "D")}
    print(json.dumps({"workload": name, "match": not diff, **counts, **elements, "differences": diff[:20]}), flush=True)
    return not diff


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def main():
    p = argparse.ArgumentParser(description="gantry vs torch_reference parameter shapes")
    p.add_argument("--workloads", default=",".join(pw.WORKLOADS), help="comma list")
    p.add_argument("--build", default="build", help="gantry build dir")
    p.add_argument("--python", default=pw.default_python(), help="python with torch (the gantry venv)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra gantry override for every workload (e.g. model.d_weight_norm=sn)")
    p.add_argument("--work", default="runs/peer_bench", help="scratch dir (data, run dirs)")
    args = p.parse_args()
    names = pw.pick_workloads(args.workloads)
    if not os.path.isfile(os.path.join(pw.ROOT, args.build, "gantry")):
        pw.die(f"{args.build}/gantry not found (build gantry first)")
    if not os.path.isfile(args.python):
        pw.die(f"{args.python} not found (give --python, a python with torch)")
    env = pw.gantry_env()
    results = [check(n, args, env) for n in names]
    if not all(results):
        pw.die("the reference's networks differ from gantry's (see 'differences' above)", 1)


if __name__ == "__main__":
    main()
