#!/usr/bin/env python3
"""Soak benchmark: a long `gantry train` run whose ranks' resident memory
(RSS), open file descriptors and threads are sampled from /proc; after the
warm-up each series gets a least-squares slope, over the whole window and
over its second half (growth keeps its slope; settling flattens out), with
the residual noise, so that "flat within noise" is a stated test:

  flat  <=>  RSS added over the second half (medians of its first and last
             tenths), projected over the window, <= max(2 * residual sd, --flat-mb)

and the median count of file descriptors and threads does not grow from the
first third of the window to the last (a checkpoint being written holds one
more fd for a moment). RSS moves in rare steps, flat between them, which a
slope overstates; the slopes are reported too.

The run trains `--config` (default configs/fmnist_dcgan.toml, the README's
main job) on `--ranks` ranks through launch/mpirun.sh for `--minutes`, then
sends the launcher a TERM (the ranks checkpoint and exit 75: the graceful
stop is part of the soak). Samples are appended to <out>/samples.jsonl as
they are taken, so a soak cut short still has its data; `--analyze DIR`
rereads them. A soak is not resumable: a restarted process starts its memory
afresh, so a soak's samples come from one unbroken run.

  bench/soak.py --minutes 35 --ranks 2 --out runs/soak            # JSON on stdout, soak.json, soak.png
  bench/soak.py --analyze runs/soak --warmup-minutes 5
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_workloads as pw  # noqa: E402


def children_of(root_pid):
    """Every descendant pid of root_pid, from /proc/*/stat."""
    parent = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2:].split()
        parent[int(entry)] = int(fields[1])
    found, frontier = set(), {root_pid}
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier and p not in found}
        found |= frontier
    return found


def rank_pids(launcher_pid):
    """rank -> pid for the gantry processes under the launcher (rank from OMPI_COMM_WORLD_RANK)."""
    ranks = {}
    for pid in children_of(launcher_pid):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "gantry":
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
        except OSError:
            continue
        if b"OMPI_COMM_WORLD_RANK" in env:
            ranks[int(env[b"OMPI_COMM_WORLD_RANK"])] = pid
    return ranks


def sample(pid):
    """RSS (MiB), open fds, threads of one process; None if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    return dict(rss_mb=int(status["VmRSS"].split()[0]) / 1024, fds=fds, threads=int(status["Threads"]))


def last_step(run_dir):
    """The newest step in rank 0's metrics.jsonl (None before the first line)."""
    try:
        with open(os.path.join(run_dir, "metrics.jsonl"), "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            return json.loads(line)["step"]
        except (ValueError, KeyError):
            continue
    return None


def fit(ts, ys):
    """Least-squares line through (t, y): slope per unit t and the residual sd."""
    n = len(ts)
    if n < 3:
        return None, None
    mt, my = sum(ts) / n, sum(ys) / n
    stt = sum((t - mt) ** 2 for t in ts)
    if stt == 0:
        return None, None
    slope = sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / stt
    resid = [y - (my + slope * (t - mt)) for t, y in zip(ts, ys)]
    return slope, (sum(r * r for r in resid) / (n - 2)) ** 0.5


def analyze(samples, warmup_min, flat_mb):
    """Per-rank slopes after the warm-up, and the verdict."""
    per_rank = {}
    for s in samples:
        for rank, v in s["ranks"].items():
            per_rank.setdefault(int(rank), []).append((s["t_min"], s.get("step"), v))
    out, flat = {}, True
    for rank, rows in sorted(per_rank.items()):
        after = [r for r in rows if r[0] >= warmup_min]
        if len(after) < 6:
            out[rank] = dict(error="fewer than 6 samples after the warm-up")
            flat = False
            continue
        ts = [r[0] for r in after]
        rss = [r[2]["rss_mb"] for r in after]
        half = after[len(after) // 2:]
        slope_all, sd_all = fit(ts, rss)
        slope_2nd, sd_2nd = fit([r[0] for r in half], [r[2]["rss_mb"] for r in half])
        window = ts[-1] - ts[0]
        fds = sorted({r[2]["fds"] for r in after})
        threads = sorted({r[2]["threads"] for r in after})
        # RSS grows in rare steps (allocator high-water marks), flat between them: what the
        # second half added (medians of its first and last tenths of the window, robust to
        # one sample), projected over the whole window, is what must stay within the noise.
        tenth = max(1, len(after) // 10)
        median = lambda xs: sorted(xs)[len(xs) // 2]
        added_2nd = median(rss[-tenth:]) - median(rss[len(rss) // 2:len(rss) // 2 + tenth])
        growth_2nd = max(0.0, added_2nd) * window / max(ts[-1] - ts[len(ts) // 2], 1e-9)
        bound = max(2 * sd_all, flat_mb)
        third = max(1, len(after) // 3)
        grows = lambda key: median([r[2][key] for r in after[-third:]]) > median([r[2][key] for r in after[:third]])
        rank_flat = growth_2nd <= bound and not grows("fds") and not grows("threads")
        flat &= rank_flat
        out[rank] = dict(
            rss_mb_start=round(rss[0], 1), rss_mb_end=round(rss[-1], 1),
            rss_mb_peak=round(max(r[2]["rss_mb"] for r in rows), 1),
            slope_mb_per_min=round(slope_all, 4), slope_2nd_half_mb_per_min=round(slope_2nd, 4),
            residual_sd_mb=round(sd_all, 3), window_min=round(window, 1),
            projected_growth_mb=round(growth_2nd, 2), flat_bound_mb=round(bound, 2),
            fds=fds, threads=threads, flat=rank_flat)
    steps = [s.get("step") for s in samples if s.get("step") is not None]
    return dict(warmup_minutes=warmup_min, flat_mb=flat_mb, samples=len(samples),
                minutes=round(samples[-1]["t_min"], 1) if samples else 0,
                last_step=steps[-1] if steps else None, ranks=out, flat=flat)


def plot(samples, warmup_min, png):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("soak.py: matplotlib missing: no plot", file=sys.stderr)
        return
    fig, (ax_rss, ax_fd) = plt.subplots(1, 2, figsize=(11, 4))
    ranks = sorted({int(r) for s in samples for r in s["ranks"]})
    for rank in ranks:
        pts = [(s["t_min"], s["ranks"][str(rank)]) for s in samples if str(rank) in s["ranks"]]
        ax_rss.plot([p[0] for p in pts], [p[1]["rss_mb"] for p in pts], label=f"rank {rank}")
        ax_fd.plot([p[0] for p in pts], [p[1]["fds"] for p in pts], label=f"rank {rank}")
    for ax, what in ((ax_rss, "RSS (MiB)"), (ax_fd, "open file descriptors")):
        ax.axvline(warmup_min, color="grey", linestyle=":", label="end of warm-up")
        ax.set_xlabel("minutes")
        ax.set_ylabel(what)
        ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def load_samples(out):
    path = os.path.join(out, "samples.jsonl")
    if not os.path.isfile(path):
        pw.die(f"no samples in {out} (samples.jsonl missing)")
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def report(args, samples, extra):
    result = dict(extra, **analyze(samples, args.warmup_minutes, args.flat_mb))
    with open(os.path.join(args.out, "soak.json"), "w") as f:
        json.dump(result, f, indent=1)
    plot(samples, args.warmup_minutes, os.path.join(args.out, "soak.png"))
    print(json.dumps(result))
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="configs/fmnist_dcgan.toml")
    p.add_argument("--set", action="append", default=[], dest="sets", help="config override (repeatable)")
    p.add_argument("--data", help="dataset .h5 (default: the packed Fashion-MNIST if present, else synth)")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--minutes", type=float, default=35.0)
    p.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    p.add_argument("--warmup-minutes", type=float, default=5.0)
    p.add_argument("--flat-mb", type=float, default=2.0,
                   help="growth over the window below this (MiB) is flat whatever the noise")
    p.add_argument("--out", default="runs/soak")
    p.add_argument("--gantry", default="build/gantry")
    p.add_argument("--analyze", metavar="DIR", help="reanalyse the samples of an earlier soak")
    args = p.parse_args()
    for name in ("minutes", "interval", "flat_mb"):
        if not getattr(args, name) > 0:
            pw.die(f"--{name.replace('_', '-')} must be positive")
    if args.warmup_minutes < 0:
        pw.die("--warmup-minutes must be non-negative")
    if args.analyze:
        args.out = args.analyze
        report(args, load_samples(args.out), {})
        return
    if args.ranks < 1:
        pw.die("--ranks must be at least 1")
    if args.warmup_minutes >= args.minutes:
        pw.die("--warmup-minutes must be shorter than --minutes")
    os.chdir(pw.ROOT)
    if not os.access(args.gantry, os.X_OK) or os.path.isdir(args.gantry):
        pw.die(f"{args.gantry} is not an executable (build first, or pass --gantry)")
    os.makedirs(args.out, exist_ok=True)
    env = pw.gantry_env()
    env.pop("GANTRY_THREADS")  # the default: cores / local ranks, as users run
    data = args.data or pw.data_file("dcgan", args.gantry, os.path.join(args.out, "data"), env, count=None)
    run_dir = os.path.join(args.out, "run")
    if os.path.exists(run_dir):
        subprocess.run(["rm", "-rf", run_dir], check=True)
    cmd = pw.gantry_train_cmd(args.gantry, args.ranks, args.config, run_dir,
                              [f"data.path={data}", "train.steps=1000000000"] + args.sets)
    samples_path = os.path.join(args.out, "samples.jsonl")
    log = open(os.path.join(args.out, "train.log"), "w")
    launcher = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    t0 = time.monotonic()
    samples, pids = [], {}
    with open(samples_path, "w") as f:
        while launcher.poll() is None and time.monotonic() - t0 < args.minutes * 60:
            if len(pids) < args.ranks:
                pids = rank_pids(launcher.pid)
            now = {str(r): v for r, pid in pids.items() if (v := sample(pid)) is not None}
            if now:
                s = dict(t_min=round((time.monotonic() - t0) / 60, 3), step=last_step(run_dir), ranks=now)
                samples.append(s)
                f.write(json.dumps(s) + "\n")
                f.flush()
            time.sleep(args.interval)
    ended_early = launcher.poll() is not None
    if not ended_early:
        launcher.send_signal(signal.SIGTERM)  # launch/mpirun.sh: checkpoint at the next step, exit 75
    try:
        rc = launcher.wait(timeout=300)
    except subprocess.TimeoutExpired:
        launcher.kill()
        rc = "hung after the stop signal"
    extra = dict(config=args.config, sets=args.sets, data=data, world_size=args.ranks, interval_s=args.interval,
                 exit_code=rc, stopped_by_signal=not ended_early)
    if not samples:
        pw.die(f"no rank was ever sampled (launcher exit {rc}; see {args.out}/train.log)", 1)
    result = report(args, samples, extra)
    if ended_early or rc != 75:
        pw.die(f"the training ended on its own or did not stop cleanly (exit {rc}; see {args.out}/train.log)", 1)
    sys.exit(0 if result["flat"] else 3)


if __name__ == "__main__":
    main()
