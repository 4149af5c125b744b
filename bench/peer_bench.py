#!/usr/bin/env python3
"""gantry vs a plain PyTorch loop (bench/torch_reference.py, DDP on gloo) on
the same workload, data and rank count, one intra-op thread per rank: what a
user choosing between gantry and PyTorch DDP on CPUs would see (issue 11).

  bench/peer_bench.py [--workloads dcgan,sngan_pgn,resnet128_pgn] [--ranks 1,2] [--reps 3]
                      [--every E] [--windows W] [--quick] [--as-configured] [--set KEY=VALUE ...]
                      [--build build] [--python VENV_PYTHON] [--work runs/peer_bench]

Per workload and rank count, runs gantry and the reference ALTERNATELY
(gantry, reference, gantry, ...) `reps` times each, on the same .h5:
  gantry:    launch/mpirun.sh -n R build/gantry train ... --set data.in_memory=true
             --set train.steps=E·(1+W) --set log.every=E; img_s from the run's
             metrics.jsonl, the first window (warm-up) left out, the rest
             combined as total images / total time;
  reference: the config + the same --set, --warmup E --steps E·W (torchrun
             for R > 1); ranks pinned one per core like launch/mpirun.sh
             (--bind-to core) when R <= cores.
Prints one JSON object: per workload and rank count both sides' img/s lists,
medians and gantry/reference. Progress on stderr; data and one log per run
under --work. A failed run stops the driver with its log's tail (exit 1).
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_workloads as pw  # noqa: E402

QUICK_WORKLOADS = ("dcgan", "sngan_pgn")  # resnet128_pgn needs minutes per run on 2 cores even CPU-sized
BIG = 10 ** 9  # checkpoints and sample grids only at the end (gantry always writes both at the last step)


def gantry_img_s(run_dir):
    """Steady-state img/s: windows after the first, as images / time."""
    with open(os.path.join(pw.ROOT, run_dir, "metrics.jsonl")) as f:
        rates = [r["img_s"] for r in map(json.loads, f) if "img_s" in r]
    timed = rates[1:]
    if not timed:
        pw.die(f"{run_dir}/metrics.jsonl has no window after the warm-up one (raise --windows)", 1)
    return len(timed) / sum(1 / r for r in timed)  # equal images per window: harmonic mean


def workload_sets(name, args):
    """The workload's CPU-sized overrides (unless --as-configured), then --set's."""
    return ([] if args.as_configured else pw.WORKLOADS[name]["sets"]) + args.set


def run_gantry(name, ranks, rep, args, data, every, windows, binary=None, label="gantry"):
    run_dir = os.path.join(args.work, "runs", f"{name}-r{ranks}-{rep}-{label}")
    shutil.rmtree(os.path.join(pw.ROOT, run_dir), ignore_errors=True)  # never resume an old run
    os.makedirs(os.path.join(pw.ROOT, run_dir))
    sets = workload_sets(name, args) + [
        f'data.path="{data}"', "data.in_memory=true", f"train.steps={every * (1 + windows)}", f"log.every={every}",
        f"train.checkpoint_every={BIG}", f"log.sample_every={BIG}", "log.sample_count=4"]
    binary = binary or os.path.join(args.build, "gantry")
    cmd = pw.gantry_train_cmd(binary, ranks, pw.WORKLOADS[name]["config"], run_dir, sets)
    pw.run_logged(cmd, os.path.join(pw.ROOT, run_dir + ".log"), pw.gantry_env())
    img_s = gantry_img_s(run_dir)
    for ckpt in os.listdir(os.path.join(pw.ROOT, run_dir)):  # the final checkpoint (large for resnet128)
        if ckpt.startswith("ckpt-"):
            os.remove(os.path.join(pw.ROOT, run_dir, ckpt))
    return img_s


def run_reference(name, ranks, rep, args, data, every, windows):
    log = os.path.join(pw.ROOT, args.work, "runs", f"{name}-r{ranks}-{rep}-reference.log")
    extra = ["--warmup", str(every), "--steps", str(every * windows), "--threads", "1", "--name", name]
    cmd = pw.reference_cmd(args.python, ranks, pw.WORKLOADS[name]["config"],
                           workload_sets(name, args) + [f'data.path="{data}"'], extra)
    result = pw.last_json(pw.run_logged(cmd, log, pw.reference_env()))
    if not result or "img_s" not in result:
        pw.die(f"no result line from the reference (log: {log})", 1)
    return result["img_s"]


def main():
    p = argparse.ArgumentParser(description="gantry vs a plain PyTorch DDP loop, img/s")
    p.add_argument("--workloads", help="comma list of " + ", ".join(pw.WORKLOADS) + " (default: all; --quick: "
                   + ",".join(QUICK_WORKLOADS) + ")")
    p.add_argument("--ranks", default="1,2", help="comma list of rank counts")
    p.add_argument("--reps", type=int, default=3, help="runs of each side per workload and rank count")
    p.add_argument("--every", type=int, help="steps per log window = warm-up steps (default: per workload)")
    p.add_argument("--windows", type=int, help="timed windows (default: per workload)")
    p.add_argument("--quick", action="store_true", help="a smoke run: 1 rep, 1 timed window, fewer steps")
    p.add_argument("--as-configured", action="store_true",
                   help="the configs' own batches and n_dis (drop the CPU-sized overrides of resnet128_pgn)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra gantry override for both sides and every workload (e.g. train.precision=bf16)")
    p.add_argument("--build", default="build", help="gantry build dir")
    p.add_argument("--baseline", help="another gantry executable (e.g. a build of an older commit) raced as a third "
                   "contender: before/after figures from one run")
    p.add_argument("--python", default=pw.default_python(), help="python with torch (the gantry venv)")
    p.add_argument("--work", default="runs/peer_bench", help="data, run dirs and logs")
    args = p.parse_args()
    names = pw.pick_workloads(args.workloads or ",".join(QUICK_WORKLOADS if args.quick else pw.WORKLOADS))
    try:
        ranks = [int(r) for r in args.ranks.split(",")]
    except ValueError:
        pw.die(f"--ranks expects a comma list of integers, not '{args.ranks}'")
    if args.quick:
        args.reps = 1
    if args.reps < 1 or any(r < 1 for r in ranks) or (args.every or 1) < 1 or (args.windows or 1) < 1:
        pw.die("--reps, --ranks, --every and --windows must be positive")
    if not os.path.isfile(os.path.join(pw.ROOT, args.build, "gantry")):
        pw.die(f"{args.build}/gantry not found (build gantry first)")
    if args.baseline and not os.path.isfile(args.baseline):
        pw.die(f"--baseline {args.baseline}: no such file")
    if not os.path.isfile(args.python):
        pw.die(f"{args.python} not found (give --python, a python with torch)")
    env = pw.gantry_env()
    os.makedirs(os.path.join(pw.ROOT, args.work, "runs"), exist_ok=True)
    started = time.time()
    results, settings = {}, {}
    for name in names:
        w = pw.WORKLOADS[name]
        every = args.every or (max(1, w["every"] // 2) if args.quick else w["every"])
        windows = args.windows or (1 if args.quick else w["windows"])
        data = pw.data_file(name, os.path.join(args.build, "gantry"), os.path.join(args.work, "data"), env)
        settings[name] = {"config": w["config"], "sets": workload_sets(name, args), "data": data, "warmup_steps": every,
                          "timed_steps": every * windows}
        results[name] = {}
        for r in ranks:
            contenders = [("gantry", run_gantry), ("reference", run_reference)]
            if args.baseline:
                contenders.insert(1, ("baseline", lambda *a: run_gantry(*a, binary=args.baseline, label="baseline")))
            side = {impl: [] for impl, _ in contenders}
            for rep in range(args.reps):  # alternate, so drifts in machine speed hit all sides alike
                for impl, fn in contenders:
                    side[impl].append(fn(name, r, rep, args, data, every, windows))
                    print(f"peer_bench: {name} ranks={r} rep={rep} {impl}: {side[impl][-1]:.1f} img/s "
                          f"({time.time() - started:.0f} s)", file=sys.stderr, flush=True)
            g, ref = statistics.median(side["gantry"]), statistics.median(side["reference"])
            results[name][str(r)] = {"gantry_img_s": side["gantry"], "reference_img_s": side["reference"],
                                     "gantry_median": g, "reference_median": ref,
                                     "ratio_gantry_over_reference": g / ref}
            if args.baseline:
                b = statistics.median(side["baseline"])
                results[name][str(r)].update({"baseline_img_s": side["baseline"], "baseline_median": b,
                                              "ratio_baseline_over_reference": b / ref,
                                              "ratio_gantry_over_baseline": g / b})
    print(json.dumps({"bench": "peer", "threads_per_rank": 1, "reps": args.reps, "cores": pw.cores(),
                      "settings": settings, "results": results, "seconds": round(time.time() - started, 1)}))


if __name__ == "__main__":
    main()
