#!/usr/bin/env python3
"""Scaling benchmark: gantry trains each workload for a few steps at 1, 2, 4, ...
ranks, strong (fixed global batch) and weak (fixed per-rank batch), with
gradient-sync overlap on/off and a sweep of bucket caps, and reports per run
s/kimg, img/s, efficiency E(N) = T1 / (N·TN) with T in s/kimg (the same
amount of work: 1,000 D images), and where a step's time goes: compute,
exposed communication (GradSync::finish beyond backward plus synchronous
collectives; log.timing) and data wait. One JSON (rewritten after every run,
so a stopped benchmark resumes where it was) and a PNG plot.

  bench/scaling.py [--workloads dcgan64,sngan32_pgn,resnet128_pgn,resnet256_pgn]
                   [--ranks 1,2,4] [--modes strong,weak] [--overlap on,off]
                   [--bucket-caps 25] [--steps 6] [--warmup 2] [--reps 1]
                   [--launch "launch/mpirun.sh"] [--label shm] [--hosts 1]
                   [--device cpu] [--as-configured] [--data FILE.h5]
                   [--sync-bench] [--out runs/scaling/scaling.json]
  bench/scaling.py --plot RESULTS.json [RESULTS2.json ...] --png OUT.png
  bench/scaling.py --summarize RESULTS.json

The launcher is called as `<launch> -n N <gantry command>` (launch/mpirun.sh
on one host; scripts/netns_cluster.sh mpirun across simulated hosts).
Data: `gantry synth` images of each workload's shape (CelebA-HQ's for the
ResNets), made once under the output folder; --data uses a packed file
instead (e.g. a real CelebA-HQ; its shape must match). On CPU the workloads
are CPU-sized (bench/peer_workloads.py's sizes: the same networks on small
batches, n_dis 1) unless --as-configured. Runs with more ranks than cores are
marked oversubscribed. Reps alternate over the whole grid; figures are medians
of the timed steps of all reps.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_workloads as pw  # noqa: E402

# name: config, data shape, synthetic count, per-rank batch for weak scaling,
# and CPU-sized overrides (global batch for strong scaling, G batch ratio, n_dis).
WORKLOADS = {
    "dcgan64": dict(config="configs/fmnist_dcgan.toml", base=["model.resolution=64", "model.channels=3"],
                    shape=(3, 64, 64), count=2048, cpu=dict(batch=16, g_ratio=1, n_dis=1)),
    "sngan32_pgn": dict(config="configs/sngan_cnn_pgn.toml", base=[], shape=(3, 32, 32), count=2048,
                        cpu=dict(batch=8, g_ratio=2, n_dis=1)),
    "resnet128_pgn": dict(config="configs/celebahq128_resnet_pgn.toml", base=[], shape=(3, 128, 128), count=256,
                          cpu=dict(batch=2, g_ratio=2, n_dis=1)),
    "resnet256_pgn": dict(config="configs/celebahq256_resnet_pgn.toml", base=[], shape=(3, 256, 256), count=128,
                          cpu=dict(batch=2, g_ratio=2, n_dis=1)),
}
CONFIGURED = {"dcgan64": dict(batch=64, g_ratio=1, n_dis=1), "sngan32_pgn": dict(batch=64, g_ratio=2, n_dis=1),
              "resnet128_pgn": dict(batch=64, g_ratio=2, n_dis=5), "resnet256_pgn": dict(batch=64, g_ratio=2, n_dis=5)}
BIG = 10 ** 9
KEY_FIELDS = ("label", "workload", "mode", "batch", "ranks", "overlap", "bucket_cap_mb")


def run_key(r):
    return "|".join(str(r[k]) for k in KEY_FIELDS)


def sizes(args, name):
    s = dict(CONFIGURED[name] if args.as_configured else WORKLOADS[name]["cpu"])
    if args.batch:
        s["batch"] = args.batch
    return s


def batches(args, name, mode, ranks):
    """(global D batch, global G batch) for a run, or None when the global batch does not split."""
    s = sizes(args, name)
    if mode == "weak":
        d = s["batch"] * ranks
    else:
        d = s["batch"]
        if d % ranks:
            return None
    return d, d * s["g_ratio"]


def make_data(args, gantry, name):
    if args.data:
        return args.data
    c, h, w = WORKLOADS[name]["shape"]
    path = os.path.join(args.work, "data", f"synth-{c}x{h}x{w}-{WORKLOADS[name]['count']}.h5")
    if not os.path.isfile(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        rc = subprocess.run([gantry, "synth", "--shape", f"{c},{h},{w}", "--count", str(WORKLOADS[name]["count"]),
                             "--seed", "1", "--out", path, "--quiet"], cwd=pw.ROOT,
                            stdout=subprocess.DEVNULL).returncode
        if rc != 0:
            pw.die(f"gantry synth failed for {name}", 1)
    return path


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def step_split(rows):
    """Median seconds per step of each part, over the timed steps' metrics lines."""
    def part(r):
        d_comm, g_comm = r.get("time_d_comm_s", 0.0), r.get("time_g_comm_s", 0.0)
        data, d, g = r.get("time_data_s", 0.0), r.get("time_d_s", 0.0), r.get("time_g_s", 0.0)
        step = r.get("time_step_s", data + d + g)
        return {"step_s": step, "data_s": data, "compute_s": (d - d_comm) + (g - g_comm), "comm_s": d_comm + g_comm,
                "d_comm_s": d_comm, "g_comm_s": g_comm, "d_backward_s": r.get("time_d_backward_s"),
                "g_backward_s": r.get("time_g_backward_s"), "other_s": max(0.0, step - data - d - g)}
    parts = [part(r) for r in rows]
    return {k: median([p[k] for p in parts]) for k in parts[0]}


def bucket_profile(run_dir, warmup):
    """rank 0's per-bucket ready times (median over timed steps) per phase, from timing.jsonl."""
    path = os.path.join(run_dir, "timing.jsonl")
    if not os.path.isfile(path):
        return None
    out = {}
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for phase in sorted({r["phase"] for r in rows}):
        timed = [r for r in rows if r["phase"] == phase and r["step"] > warmup]
        if not timed:
            continue
        n = len(timed[0]["bucket_bytes"])
        ready = [median([r["bucket_ready_s"][b] for r in timed]) for b in range(n)]
        out[phase] = {"phases_per_step": timed[0]["phases"], "bucket_bytes": timed[0]["bucket_bytes"],
                      "bucket_ready_s": ready, "backward_s": median([r["backward_s"] for r in timed]),
                      "exposed_s": median([r["exposed_s"] for r in timed]),
                      "sync_collectives": median([r.get("sync_collectives", 0) for r in timed]),
                      "sync_collective_bytes": median([r.get("sync_collective_bytes", 0) for r in timed]),
                      "sync_collective_s": median([r.get("sync_collective_s", 0) for r in timed])}
    return out


def one_run(args, gantry, name, mode, ranks, overlap, cap, rep, data):
    b = batches(args, name, mode, ranks)
    if b is None:
        return {"skipped": f"global batch {sizes(args, name)['batch']} does not split over {ranks} ranks"}
    d_batch, g_batch = b
    run_dir = os.path.join(args.work, "runs", f"{args.label}-{name}-{mode}-n{ranks}-ov{int(overlap)}-cap{cap}-r{rep}")
    subprocess.run(["rm", "-rf", run_dir])
    os.makedirs(run_dir)
    steps = args.warmup + args.steps
    sets = WORKLOADS[name]["base"] + [
        f'data.path="{os.path.abspath(data)}"', "data.in_memory=true", f"data.batch={d_batch}",
        f"train.g_batch={g_batch}", f"train.n_dis={sizes(args, name)['n_dis']}", f"train.steps={steps}",
        "log.every=1", "log.timing=true", f"train.grad_sync_overlap={'true' if overlap else 'false'}",
        f"train.bucket_cap_mb={cap}", f"train.checkpoint_every={BIG}", f"log.sample_every={BIG}",
        "log.sample_count=4"] + args.set
    cmd = shlex.split(args.launch) + ["-n", str(ranks), gantry, "train", "--config", WORKLOADS[name]["config"],
                                      "--run-dir", run_dir, "--quiet"]
    for s in sets:
        cmd += ["--set", s]
    # Intra-op threads: the machine's cores shared by all ranks (simulated hosts share them too).
    threads = os.environ.get("GANTRY_THREADS") or str(max(1, len(os.sched_getaffinity(0)) // ranks))
    env = dict(os.environ, GANTRY_DEVICE=args.device, GANTRY_THREADS=threads, OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    t0 = time.time()
    with open(run_dir + ".log", "w") as log:
        log.write(" ".join(shlex.quote(c) for c in cmd) + "\n")
        log.flush()
        try:
            rc = subprocess.run(cmd, cwd=pw.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                timeout=args.timeout).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    if rc != 0:
        with open(run_dir + ".log") as log:
            tail = "".join(log.readlines()[-8:])
        sys.stderr.write(f"scaling: {name} {mode} n={ranks} failed ({rc}); log {run_dir}.log:\n{tail}")
        return {"failed": str(rc)}
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        rows = [r for r in map(json.loads, f) if "img_s" in r]
    for name_ in os.listdir(run_dir):  # the final checkpoint: large (ResNet-256: hundreds of MB), not needed
        if name_.startswith("ckpt-"):
            os.remove(os.path.join(run_dir, name_))
    timed = [r for r in rows if r["step"] > args.warmup]
    if not timed:
        return {"failed": "no timed steps"}
    return {"img_s": [r["img_s"] for r in timed], "split": step_split(timed),
            "buckets": bucket_profile(run_dir, args.warmup), "wall_s": round(time.time() - t0, 1),
            "d_batch": d_batch, "g_batch": g_batch, "peak_rss_mb": max(r.get("peak_rss_mb", 0) for r in rows),
            "peak_gpu_mb": max(r.get("peak_gpu_mb", 0) for r in rows)}


def finalize(results):
    """Medians over reps, s/kimg, and efficiency against the 1-rank run of the same series."""
    runs = results["runs"]
    for r in runs.values():
        img = [x for rep in r.get("reps", []) for x in rep.get("img_s", [])]
        if not img:
            continue
        r["img_s"] = statistics.median(img)
        r["s_per_kimg"] = 1000.0 / r["img_s"]
        splits = [rep["split"] for rep in r["reps"] if "split" in rep]
        r["split"] = {k: median([s[k] for s in splits]) for k in splits[0]}
        step = r["split"]["step_s"]
        r["fraction"] = {k: (r["split"][k] / step if step and r["split"][k] is not None else None)
                         for k in ("compute_s", "comm_s", "data_s", "other_s")}
        r["buckets"] = next((rep["buckets"] for rep in r["reps"] if rep.get("buckets")), None)
        for k in ("d_batch", "g_batch"):
            r[k] = r["reps"][0][k]
        for k in ("peak_rss_mb", "peak_gpu_mb"):
            r[k] = max(rep.get(k, 0) for rep in r["reps"])
    for r in runs.values():
        if "s_per_kimg" not in r:
            continue
        base = runs.get(run_key(dict(r, ranks=1)))
        if base and "s_per_kimg" in base:
            r["efficiency"] = base["s_per_kimg"] / (r["ranks"] * r["s_per_kimg"])


def sync_bench(args, results):
    """Fused GradSync vs raw MPI_Allreduce bandwidth on this launcher at 2 ranks (target ≥ 90 %), and the
    raw all-reduce time per message size (the link's α-β calibration)."""
    binary = os.path.join(args.build, "bench", "bench_grad_sync")
    n = 2
    cmd = shlex.split(args.launch) + ["-n", str(n), binary, "--reps", "5", "--sweep", "--contention"]
    # Intra-op threads as for the training runs: the cores shared by the 2 ranks. Left to each rank
    # (cores per local rank), simulated hosts would each take every core, and the OpenMP threads
    # spinning after a parallel region starve the MPI progress thread (fused 26 % of raw instead of 92 %).
    threads = os.environ.get("GANTRY_THREADS") or str(max(1, len(os.sched_getaffinity(0)) // n))
    p = subprocess.run(cmd, cwd=pw.ROOT, capture_output=True, text=True, timeout=args.timeout,
                       env=dict(os.environ, GANTRY_DEVICE="cpu", GANTRY_THREADS=threads))
    try:
        j = json.loads(p.stdout) if p.returncode == 0 else None
    except ValueError:
        j = None
    if not j:
        sys.stderr.write(f"scaling: bench_grad_sync failed ({p.returncode}): {p.stderr[-500:]}\n")
        return
    for row in j.get("fused_vs_raw", []):
        row["fused_pct_of_raw"] = 100.0 * row["raw_allreduce_ms"] / row["fused_ms"]
        row["target_pct"] = 90
        row["meets_target"] = row["fused_pct_of_raw"] >= 90
    results.setdefault("sync_bench", {})[args.label] = dict(j, ranks=n)


def summarize(path):
    with open(path) as f:
        res = json.load(f)
    print(f"{'label':<12} {'workload':<14} {'mode':<6} {'b':>3} {'N':>2} {'ov':>2} {'cap':>4} {'img/s':>8} {'s/kimg':>8} "
          f"{'E(N)':>5} {'comp%':>5} {'comm%':>5} {'data%':>5} {'oversub':>7}")
    for r in sorted(res["runs"].values(), key=lambda r: tuple(str(r[k]) for k in KEY_FIELDS[:4]) + (r["ranks"],)):
        if "s_per_kimg" not in r:
            why = r.get("note") or ("failed: " + r["failed"] if "failed" in r else "not run")
            print(f"{r['label']:<12} {r['workload']:<14} {r['mode']:<6} {r['batch']:>3} {r['ranks']:>2}  {why}")
            continue
        fr = r["fraction"]
        pct = lambda k: f"{100 * fr[k]:5.1f}" if fr.get(k) is not None else "    -"  # noqa: E731
        eff = f"{r['efficiency']:5.2f}" if "efficiency" in r else "    -"
        print(f"{r['label']:<12} {r['workload']:<14} {r['mode']:<6} {r['batch']:>3} {r['ranks']:>2} {int(r['overlap']):>2} "
              f"{r['bucket_cap_mb']:>4g} {r['img_s']:8.2f} {r['s_per_kimg']:8.1f} {eff} {pct('compute_s')} "
              f"{pct('comm_s')} {pct('data_s')} {str(r['oversubscribed']):>7}")
    for label, sb in res.get("sync_bench", {}).items():
        for row in sb.get("fused_vs_raw", []):
            print(f"sync {label}: {row['params']}: fused {row['fused_pct_of_raw']:.0f} % of raw MPI_Allreduce "
                  f"bandwidth at {sb['ranks']} ranks (target 90 %)")


def plot(paths, png):
    """One row per workload: s/kimg and E(N) against ranks, a line per (link, mode, batch,
    overlap, cap). E(N) of a series without its own 1-rank run (a multi-host link) uses the
    1-rank runs of the same work on any launcher: one rank does not communicate."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    runs = []
    for path in paths:
        with open(path) as f:
            runs += [r for r in json.load(f)["runs"].values() if "s_per_kimg" in r]
    one = {}
    for r in runs:
        if r["ranks"] == 1:
            one.setdefault((r["workload"], r["mode"], r["batch"]), []).append(r["s_per_kimg"])
    workloads = sorted({r["workload"] for r in runs})
    fig, axes = plt.subplots(len(workloads), 2, figsize=(14, 4.2 * len(workloads)), squeeze=False)
    for row, w in zip(axes, workloads):
        ax1, ax2 = row
        series = {}
        for r in runs:
            if r["workload"] == w:
                key = (r["label"], r["mode"], r["batch"], r["overlap"], r["bucket_cap_mb"])
                series.setdefault(key, []).append(r)
        for key, rs in sorted(series.items(), key=lambda kv: str(kv[0])):
            rs.sort(key=lambda r: r["ranks"])
            label = f"{key[0]} {key[1]} b={key[2]} overlap {'on' if key[3] else 'off'} {key[4]:g} MiB"
            line, = ax1.plot([r["ranks"] for r in rs], [r["s_per_kimg"] for r in rs], marker="o", label=label)
            over = [r for r in rs if r["oversubscribed"]]
            ax1.scatter([r["ranks"] for r in over], [r["s_per_kimg"] for r in over], facecolors="none",
                        edgecolors="red", s=140, zorder=3)
            base = one.get((w, key[1], key[2]))
            if base:
                t1 = statistics.median(base)
                ax2.plot([r["ranks"] for r in rs], [t1 / (r["ranks"] * r["s_per_kimg"]) for r in rs], marker="o",
                         color=line.get_color())
        ax1.set_xscale("log", base=2)
        ax1.set_yscale("log")
        ax1.set_xlabel("ranks")
        ax1.set_ylabel("s/kimg (lower is better)")
        ax1.set_title(f"{w}: time per 1,000 D images (red ring: oversubscribed)")
        ax2.set_xscale("log", base=2)
        ax2.axhline(1.0, color="grey", lw=0.8)
        ax2.set_ylim(0, 1.2)
        ax2.set_xlabel("ranks")
        ax2.set_ylabel("E(N) = T1 / (N·TN)")
        ax2.set_title(f"{w}: scaling efficiency")
        ax2.legend(*ax1.get_legend_handles_labels(), loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=100, bbox_inches="tight")


def int_list(text, what):
    try:
        xs = [int(x) for x in text.split(",") if x]
    except ValueError:
        pw.die(f"--{what} takes a comma list of integers, not '{text}'")
    if not xs or min(xs) < 1:
        pw.die(f"--{what} takes positive integers")
    return xs


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", default="dcgan64,sngan32_pgn,resnet128_pgn")
    p.add_argument("--ranks", default="1,2,4")
    p.add_argument("--modes", default="strong,weak")
    p.add_argument("--overlap", default="on,off")
    p.add_argument("--bucket-caps", default="25")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--reps", type=int, default=1)
    p.add_argument("--launch", default="launch/mpirun.sh")
    p.add_argument("--label", default="shm", help="names this launcher/link in the results (e.g. netns-1gbit)")
    p.add_argument("--hosts", type=int, default=1, help="hosts the launcher spreads ranks over (for oversubscription)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--as-configured", action="store_true", help="the configs' own batches and n_dis")
    p.add_argument("--batch", type=int, default=0,
                   help="D batch: per rank (weak), global (strong); default: the workload's")
    p.add_argument("--data", help="a packed dataset to use for every workload instead of synthetic data")
    p.add_argument("--set", action="append", default=[], help="extra --set for every run")
    p.add_argument("--sync-bench", action="store_true", help="also fused vs raw all-reduce bandwidth on this launcher")
    p.add_argument("--build", default="build")
    p.add_argument("--timeout", type=int, default=3600)
    p.add_argument("--out", default="runs/scaling/scaling.json")
    p.add_argument("--png", help="plot file (default: --out with .png)")
    p.add_argument("--plot", nargs="+", metavar="RESULTS.json", help="only plot these results files")
    p.add_argument("--summarize", metavar="RESULTS.json")
    args = p.parse_args()
    if args.summarize:
        summarize(args.summarize)
        return
    if args.plot:
        plot(args.plot, args.png or os.path.splitext(args.plot[0])[0] + ".png")
        return
    names = [n for n in args.workloads.split(",") if n]
    for n in names:
        if n not in WORKLOADS:
            pw.die(f"unknown workload '{n}' (choose from {', '.join(WORKLOADS)})")
    args.ranks = int_list(args.ranks, "ranks")
    caps = []
    for c in args.bucket_caps.split(","):
        try:
            caps.append(float(c))
        except ValueError:
            pw.die(f"--bucket-caps takes a comma list of MiB, not '{args.bucket_caps}'")
    if min(caps) <= 0:
        pw.die("--bucket-caps must be positive")
    modes = [m for m in args.modes.split(",") if m]
    overlaps = []
    for o in args.overlap.split(","):
        if o not in ("on", "off"):
            pw.die(f"--overlap takes on,off, not '{o}'")
        overlaps.append(o == "on")
    if any(m not in ("strong", "weak") for m in modes):
        pw.die(f"--modes takes strong,weak, not '{args.modes}'")
    if args.batch < 0:
        pw.die("--batch must be positive")
    if args.steps < 1 or args.warmup < 1 or args.reps < 1:
        pw.die("--steps, --warmup and --reps must be at least 1")
    gantry = os.path.abspath(os.path.join(args.build, "gantry"))
    if not os.path.isfile(gantry):
        pw.die(f"no gantry binary at {gantry} (build first)")
    out = os.path.abspath(args.out)
    args.work = os.path.dirname(out)
    os.makedirs(args.work, exist_ok=True)
    results = {"benchmark": "scaling", "runs": {}}
    if os.path.isfile(out):  # resume: runs already measured are kept, not repeated
        with open(out) as f:
            results = json.load(f)
    cores = len(os.sched_getaffinity(0))
    results["machine"] = {"cores": cores, "device": args.device, "host": os.uname().nodename}

    def save():
        finalize(results)
        tmp = out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(results, f, indent=1)
        os.replace(tmp, out)

    if args.sync_bench:
        sync_bench(args, results)
        save()
    data = {n: make_data(args, gantry, n) for n in names}
    failed = False
    for rep in range(args.reps):
        for name in names:
            for mode in modes:
                for overlap in overlaps:
                    for cap in caps:
                        for ranks in args.ranks:
                            batch = sizes(args, name)["batch"]
                            key = run_key({"label": args.label, "workload": name, "mode": mode, "batch": batch,
                                           "ranks": ranks, "overlap": overlap, "bucket_cap_mb": cap})
                            r = results["runs"].setdefault(key, {
                                "label": args.label, "workload": name, "mode": mode, "batch": batch, "ranks": ranks,
                                "overlap": overlap, "bucket_cap_mb": cap, "hosts": args.hosts, "reps": [],
                                "oversubscribed": ranks > cores, "device": args.device,
                                "as_configured": args.as_configured, "steps": args.steps, "warmup": args.warmup})
                            if len(r["reps"]) > rep or r.get("note"):
                                continue
                            print(f"scaling: {args.label} {name} {mode} n={ranks} overlap={overlap} cap={cap} "
                                  f"rep {rep + 1}/{args.reps}", file=sys.stderr, flush=True)
                            res = one_run(args, gantry, name, mode, ranks, overlap, cap, rep, data[name])
                            if "skipped" in res:
                                r["note"] = res["skipped"]
                            elif "failed" in res:
                                failed = True
                                r["failed"] = res["failed"]  # retried when the benchmark is run again
                            else:
                                r.pop("failed", None)
                                r["reps"].append(res)
                            save()
    save()
    try:
        plot([out], args.png or os.path.splitext(out)[0] + ".png")
    except ImportError:
        print("scaling: matplotlib is not installed (scripts/setup.sh installs it): no plot", file=sys.stderr)
    summarize(out)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
