#!/usr/bin/env python3
"""gantry's scaling model (docs/SCALING.md): a step's time is its compute plus
the communication that backward does not hide.

  T(N) = T_profile − comm_profile + Σ_phases k_p · (exposed_p(N) + collectives_p(N))

T_profile, comm_profile: a measured run's step time and exposed communication
(bench/scaling.py JSON; on 1 rank comm ≈ 0). exposed_p: GradSync's buckets of
phase p (D, G; k_p of them per step) replayed on one communication channel:
bucket b starts at max(its ready time in backward, the previous bucket's end)
and takes t_ar(bytes_b); what runs past backward's end is exposed (without
overlap every bucket starts after backward). Ready times and sizes come from
gantry's own hooks (log.timing → timing.jsonl). collectives_p: the phase's
synchronous collectives (synchronized BN: its table grows with N), latency-bound.

All-reduce cost t_ar(S, N):
  ring: 2(N−1)·α + S · 2(N−1)/N / B      (B: bus bandwidth, nccl-tests' busbw)
  tree: 2·⌈log2 N⌉·α + S · 2(N−1)/N / B   (NCCL's trees reach ring busbw at large S)
  t_ar = min(ring, tree), α per hop; across nodes the inter-node α and
  B = min(intra busbw, inter-node busbw).
For MPI on a shaped link the measured sweep at that N is fitted directly:
t_ar(S) = a + b·S (bench_grad_sync --sweep; sizes ≥ 256 KiB, where buckets live).

On CPU hosts communication that overlaps backward is not free: MPI's progress
thread busy-polls and the transport's own work runs on the same cores. The
share of an overlapped second of communication that still adds to the step is
measured per message size (bench_grad_sync --contention, in the sweep's JSON or
given with --contention LABEL=FILE); without a measurement, ½ (one compute
thread and one polling thread on a core). On GPUs it is 0 (NCCL runs on the
device).

  bench/scaling_model.py calibrate SWEEP.json [--min-bytes 262144]
  bench/scaling_model.py validate --profile SHM.json --measured HOSTS.json --sweeps LABEL=SWEEP.json ...
                         [--contention LABEL=BENCH.json ...]
  bench/scaling_model.py caps --profile RUN.json --workload W --sweep SWEEP.json [--caps 0.25,1,4,25]
  bench/scaling_model.py project --profile GPU.json [--workloads resnet128_pgn,resnet256_pgn] [--out FILE.md]
"""
import argparse
import json
import math
import statistics
import sys

MiB = 1 << 20


def die(msg):
    print(f"scaling_model: {msg}", file=sys.stderr)
    sys.exit(2)


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        die(f"cannot read {path}: {e}")


# ------------------------------------------------------------------ links
def fit_sweep(sweep_json, min_bytes=256 * 1024):
    """Least-squares a + b·S over the sweep's sizes ≥ min_bytes (relative error weighted). The
    sweep is bench_grad_sync's JSON, or a bench/scaling.py results file holding one (sync_bench)."""
    if "raw_sweep" not in sweep_json and len(sweep_json.get("sync_bench") or {}) == 1:
        sweep_json = next(iter(sweep_json["sync_bench"].values()))
    rows = [r for r in sweep_json.get("raw_sweep", []) if r["bytes"] >= min_bytes]
    if len(rows) < 2:
        die("the sweep needs at least two sizes ≥ --min-bytes (bench_grad_sync --sweep)")
    # Weighted by 1/t: each size counts by its relative error.
    w = [1 / (r["ms"] * 1e-3) for r in rows]
    xs = [r["bytes"] for r in rows]
    ys = [r["ms"] * 1e-3 for r in rows]
    sw = sum(wi * wi for wi in w)
    sx = sum(wi * wi * x for wi, x in zip(w, xs))
    sy = sum(wi * wi * y for wi, y in zip(w, ys))
    sxx = sum(wi * wi * x * x for wi, x in zip(w, xs))
    sxy = sum(wi * wi * x * y for wi, x, y in zip(w, xs, ys))
    b = (sw * sxy - sx * sy) / (sw * sxx - sx * sx)
    a = (sy - b * sx) / sw
    small = min(sweep_json["raw_sweep"], key=lambda r: r["bytes"])
    fit = {"a_s": max(a, 0.0), "b_s_per_byte": b, "n": sweep_json["world_size"],
           "small_s": small["ms"] * 1e-3, "small_bytes": small["bytes"],
           "algbw_GBs": 1e-9 / b if b > 0 else float("inf")}
    fit["residuals_pct"] = [round(100 * ((fit["a_s"] + b * x) - y) / y, 1) for x, y in zip(xs, ys)]
    fit["contention"] = contention_rows(sweep_json)
    return fit


def contention_rows(bench_json):
    """(bytes, share) per message size of a bench_grad_sync --contention run ([] without one)."""
    rows = bench_json.get("contention") or []
    try:
        return sorted((int(r["bytes"]), float(r["share"])) for r in rows)
    except (KeyError, TypeError, ValueError):
        die("contention rows need 'bytes' and 'share' (bench_grad_sync --contention)")


class MeasuredLink:
    """t_ar from a fitted sweep at one world size (what the shaped links are)."""

    def __init__(self, fit):
        self.fit = fit

    def use_contention(self, path):
        """Take the contention shares of another bench_grad_sync --contention run (a file)."""
        self.fit["contention"] = contention_rows(load(path)) or die(f"{path} has no contention rows")

    def describe_contention(self):
        rows = self.fit.get("contention") or []
        return "contention share " + (", ".join(f"{b / MiB:g} MiB {s:.2f}" for b, s in rows)
                                      if rows else "not measured (0.5)")

    def share(self, nbytes):
        """The measured contention share of the message size nearest to nbytes (log scale), or
        None when the link has no --contention measurement."""
        rows = self.fit.get("contention") or []
        if not rows:
            return None
        return min(rows, key=lambda r: abs(math.log(max(nbytes, 1) / r[0])))[1]

    def allreduce(self, nbytes, n):
        if n != self.fit["n"]:
            die(f"the link was calibrated at {self.fit['n']} ranks, asked for {n}")
        if nbytes <= self.fit["small_bytes"]:
            return self.fit["small_s"]
        return max(self.fit["small_s"], self.fit["a_s"] + self.fit["b_s_per_byte"] * nbytes)


class Cluster:
    """NCCL on nodes of g GPUs: intra-node busbw/α, inter-node busbw (per node, all NICs)/α."""

    def __init__(self, name, gpus_per_node, intra_busbw, intra_alpha, inter_busbw, inter_alpha, note):
        self.name, self.g = name, gpus_per_node
        self.intra_busbw, self.intra_alpha = intra_busbw, intra_alpha
        self.inter_busbw, self.inter_alpha = inter_busbw, inter_alpha
        self.note = note

    def share(self, nbytes):  # NCCL runs on the GPU: no host-core contention modelled
        return None

    def allreduce(self, nbytes, n):
        if n <= 1:
            return 0.0
        nodes = math.ceil(n / self.g)
        busbw = self.intra_busbw if nodes == 1 else min(self.intra_busbw, self.inter_busbw)
        wire = nbytes * 2 * (n - 1) / n / busbw
        if nodes == 1:
            ring_lat = 2 * (n - 1) * self.intra_alpha
            tree_lat = 2 * math.ceil(math.log2(n)) * self.intra_alpha
        else:
            ring_lat = 2 * ((n - nodes) * self.intra_alpha + nodes * self.inter_alpha)
            tree_lat = 2 * (math.ceil(math.log2(self.g)) * self.intra_alpha + math.ceil(math.log2(nodes)) * self.inter_alpha)
        return min(ring_lat, tree_lat) + wire


# Inputs, cited in docs/SCALING.md: NVLink4 (H100/H200 SXM, NVSwitch) ring busbw ~370 GB/s
# (NVIDIA/nccl-tests#212); NDR 400 Gbit/s CX-7 ~48 GB/s per NIC (NVIDIA/nccl-tests#267);
# HDR 200 Gbit/s ~24 GB/s per NIC (NVIDIA/nccl-tests#119); DGX-A100 with 8×200G: 192 GB/s
# inter-node all-reduce busbw (NVIDIA/nccl#1576). α: assumptions (2 µs per NVLink hop,
# 8 µs per network hop), stated in the doc.
CLUSTERS = [
    Cluster("8xNVLink + 8x400G IB", 8, 370e9, 2e-6, 8 * 48e9, 8e-6, "one NDR NIC per GPU (DGX H100 style)"),
    Cluster("8xNVLink + 8x200G IB", 8, 370e9, 2e-6, 8 * 24e9, 8e-6, "one HDR NIC per GPU"),
    Cluster("8xNVLink + 1x400G IB", 8, 370e9, 2e-6, 48e9, 8e-6, "one NDR NIC per node"),
    Cluster("8xNVLink + 1x200G IB", 8, 370e9, 2e-6, 24e9, 8e-6, "one HDR NIC per node"),
]


# ------------------------------------------------------------------ step model
def rebucket(buckets, cap_bytes):
    """Merge a fine profile's consecutive buckets (launch order) as GradSync packs them: the
    first bucket up to min(1 MiB, cap), the others up to the cap. A merged bucket is ready when
    its last part is (None: some part got no gradient in backward, launched after it)."""
    out = []
    for nbytes, ready in buckets:
        if out:
            limit = min(MiB, cap_bytes) if len(out) == 1 else cap_bytes
            if out[-1][0] + nbytes <= limit:
                prev = out[-1][1]
                out[-1] = [out[-1][0] + nbytes, None if ready is None or prev is None else max(prev, ready)]
                continue
        out.append([nbytes, ready])
    return [tuple(b) for b in out]


def replay(buckets, backward_s, ar, overlap):
    """Buckets on one channel, in launch order: (communication past the end of backward, each
    bucket's seconds in flight while backward still runs)."""
    end = 0.0 if overlap else backward_s
    overlapped = []
    for nbytes, ready in buckets:
        start = max(backward_s if (ready is None or not overlap) else ready, end)
        end = start + ar(nbytes)
        overlapped.append(max(0.0, min(end, backward_s) - start))
    return max(0.0, end - backward_s), overlapped


def exposed(buckets, backward_s, ar, overlap):
    """Communication past the end of backward."""
    return replay(buckets, backward_s, ar, overlap)[0]


def base_time(run):
    """A run's step time without GradSync's exposed communication."""
    return run["split"]["step_s"] - sum(p["phases_per_step"] * (p.get("exposed_s") or 0.0)
                                        for p in (run.get("buckets") or {}).values())


def predict(run, link, n, overlap=None, cap_mb=None, progress_share=None, base=None):
    """Predicted step seconds of `run`'s workload at n ranks on `link`, and its parts.

    The profile keeps its compute, data and the time its synchronous collectives blocked
    (mostly waiting for the slower rank: load skew, which a faster wire does not remove);
    GradSync's exposed time is replaced by the replay on the link, and the collectives'
    transfer on the link is added. progress_share: the part of each second of communication
    overlapped with backward that still adds to the step (CPU hosts: the link's measured share
    for the bucket's size, bench_grad_sync --contention; without one 0.5, one compute thread and
    MPI's busy-polling progress thread on one core; GPUs: 0, NCCL runs on the device); a number
    given here overrides both. base: the compute + data + collectives time to
    use instead of this run's own (e.g. a median over several runs of the same work)."""
    split, prof = run["split"], run.get("buckets") or {}
    if not prof:
        die(f"run {run['workload']} has no bucket profile (log.timing)")
    overlap = run["overlap"] if overlap is None else overlap
    on_cpu = run.get("device", "cpu") == "cpu"

    def share(nbytes):
        if progress_share is not None:
            return progress_share
        if not on_cpu:
            return 0.0
        measured = link.share(nbytes)
        return 0.5 if measured is None else measured

    base = base_time(run) if base is None else base
    comm = contention = 0.0
    ar = lambda s: link.allreduce(s, n)  # noqa: E731
    for phase, p in prof.items():
        buckets = list(zip(p["bucket_bytes"], p["bucket_ready_s"]))
        if cap_mb is not None:
            buckets = rebucket(buckets, int(cap_mb * MiB))
        k = p["phases_per_step"]
        exp, overlapped = replay(buckets, p["backward_s"], ar, overlap) if n > 1 else (0.0, [])
        calls = p.get("sync_collectives", 0)
        coll = 0.0
        if calls and n > 1:
            per_call = p["sync_collective_bytes"] / calls * n / max(run["ranks"], 1)  # BN's table grows with N
            coll = calls * ar(per_call)
        comm += k * (exp + coll)
        contention += k * sum(share(b) * o for (b, _), o in zip(buckets, overlapped))
    return base + comm + contention, {"compute_and_data_s": base, "comm_s": comm, "contention_s": contention}


# ------------------------------------------------------------------ commands
def cmd_calibrate(a):
    for path in a.sweeps:
        fit = fit_sweep(load(path), a.min_bytes)
        print(json.dumps({"sweep": path, **fit}))


def runs_of(results, **match):
    return [r for r in results["runs"].values()
            if "s_per_kimg" in r and all(r.get(k) == v for k, v in match.items())]


def cmd_validate(a):
    shm = load(a.profile)
    hosts = load(a.measured)
    links = {}
    for item in a.sweeps:
        label, _, path = item.partition("=")
        links[label] = MeasuredLink(fit_sweep(load(path), a.min_bytes))
    for item in a.contention or []:
        label, _, path = item.partition("=")
        if label not in links:
            die(f"--contention {label}: no --sweeps entry of that label")
        links[label].use_contention(path)
    for label, link in links.items():
        print(f"{label}: {link.describe_contention()}")
    rows, worst = [], 0.0
    for m in sorted(hosts["runs"].values(), key=lambda r: (r["label"], r["workload"], r["ranks"], r["overlap"])):
        if "s_per_kimg" not in m or m["ranks"] < 2 or m["label"] not in links:
            continue
        # Bucket timing: the finest shared-memory profile of the same work, re-bucketed to the
        # measured run's cap, with the measured run's overlap setting.
        prof = runs_of(shm, workload=m["workload"], mode=m["mode"], batch=m["batch"], ranks=m["ranks"])
        if not prof:
            continue
        # Its compute: the median over every shared-memory run of the same work (overlap and
        # caps barely matter there), so that one noisy run does not set the baseline.
        base = statistics.median(base_time(r) for r in prof)
        fine = min([r for r in prof if r["overlap"] == m["overlap"]] or prof, key=lambda r: r["bucket_cap_mb"])
        pred, parts = predict(fine, links[m["label"]], m["ranks"], overlap=m["overlap"], cap_mb=m["bucket_cap_mb"],
                              base=base)
        meas = m["split"]["step_s"]
        err = (pred - meas) / meas
        worst = max(worst, abs(err))
        rows.append((m["label"], m["workload"], m["ranks"], m["overlap"], m["bucket_cap_mb"], meas, pred, err,
                     m["split"]["comm_s"], parts["comm_s"]))
    print("| link | workload | N | overlap | cap MiB | measured s/step | predicted | error | measured comm | predicted comm |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {'on' if r[3] else 'off'} | {r[4]:g} | {r[5]:.3f} | {r[6]:.3f} | "
              f"{100 * r[7]:+.1f} % | {r[8]:.3f} | {r[9]:.3f} |")
    print(f"\nworst |error| {100 * worst:.1f} % over {len(rows)} runs (goal ≤ 15 %)")


def cmd_caps(a):
    res = load(a.profile)
    link = MeasuredLink(fit_sweep(load(a.sweep), a.min_bytes))
    if a.contention:
        link.use_contention(a.contention)
    n = link.fit["n"]
    runs = runs_of(res, workload=a.workload, ranks=n, mode="weak", overlap=True)
    if not runs:
        die(f"no weak-scaling run of {a.workload} at {n} ranks with overlap in {a.profile}")
    run = min(runs, key=lambda r: r["bucket_cap_mb"])  # the finest profile
    print(f"{a.workload}: profile {run['label']} (cap {run['bucket_cap_mb']:g} MiB), link fitted at {n} ranks, "
          f"algbw {link.fit['algbw_GBs']:.2f} GB/s")
    print(link.describe_contention())
    print("| bucket cap MiB | overlap | predicted s/step | exposed comm | exposed / step | contention |")
    print("|---|---|---|---|---|---|")
    for cap in [float(c) for c in a.caps.split(",")]:
        for ov in (True, False):
            t, parts = predict(run, link, n, overlap=ov, cap_mb=cap)
            print(f"| {cap:g} | {'on' if ov else 'off'} | {t:.3f} | {parts['comm_s']:.3f} | "
                  f"{100 * parts['comm_s'] / t:.1f} % | {parts['contention_s']:.3f} |")


def strong_table(w, runs, global_batch=512):
    """Strong scaling at a fixed global D batch, relative to one 8-GPU node: per-GPU batch
    global/N; compute from the fp32 profiles at per-GPU batch 64 and 8 (below 8 the batch-8
    profile's time is used: an upper bound on compute, so E is a lower bound)."""
    by_batch = {r["batch"]: r for r in runs if r["label"].startswith("gpu-fp32")}
    if not {64, 8} <= set(by_batch):
        return []
    out = [f"\n**{w}**, strong scaling at a global D batch of {global_batch} (fp32 profiles), "
           f"E(N) = 8·T8 / (N·TN), relative to one 8-GPU node\n",
           "| interconnect | " + " | ".join(f"N={n} (b={global_batch / n:g})" for n in (8, 64, 256, 1024)) + " |",
           "|---|" + "---|" * 4]
    for cl in CLUSTERS:
        t8 = predict(by_batch[64], cl, 8, overlap=True, cap_mb=25)[0]
        cells = []
        for n in (8, 64, 256, 1024):
            b = global_batch / n
            if b < 1:
                cells.append("impossible: < 1 image per GPU")
                continue
            prof = by_batch[64] if b >= 64 else by_batch[8]
            t = predict(prof, cl, n, overlap=True, cap_mb=25)[0]
            if 8 < b < 64:  # between the two profiles: linear in the batch
                t64 = predict(by_batch[64], cl, n, overlap=True, cap_mb=25)[0]
                t = t + (t64 - t) * (b - 8) / 56
            bound = " (≥)" if b < 8 else ""
            cells.append(f"{t:.3f} s/step{bound}, E {8 * t8 / (n * t):.2f}{' (≤)' if b < 8 else ''}")
        out.append(f"| {cl.name} | " + " | ".join(cells) + " |")
    return out


def borrow_collectives(runs, source, w):
    """A 1-rank profile issues no synchronized-BN collectives (BN is local at one rank): take
    each phase's count and per-rank bytes from a multi-rank run of the same network (the CPU
    runs use the same layers on smaller batches), normalised to one rank."""
    src = [r for r in source["runs"].values() if r["workload"] == w and r["ranks"] > 1 and r.get("buckets")]
    if not src:
        return f"no synchronized-BN collectives counted for {w} (no multi-rank run in the source): 0 assumed"
    s = min(src, key=lambda r: r["ranks"])
    for run in runs:
        for phase, p in run["buckets"].items():
            q = s["buckets"].get(phase, {})
            p["sync_collectives"] = q.get("sync_collectives", 0)
            p["sync_collective_bytes"] = q.get("sync_collective_bytes", 0) / s["ranks"]
    calls = {ph: s["buckets"][ph].get("sync_collectives", 0) for ph in s["buckets"]}
    return f"synchronized-BN collectives per phase from the {s['label']} {s['ranks']}-rank run: {calls}"


def cmd_project(a):
    res = load(a.profile)
    source = load(a.collectives_from) if a.collectives_from else None
    out = []
    for w in a.workloads.split(","):
        runs = runs_of(res, workload=w, ranks=1)
        if not runs:
            out.append(f"\n{w}: no 1-GPU profile in {a.profile}\n")
            continue
        if source:
            out.append(f"\n{w}: {borrow_collectives(runs, source, w)}")
        for run in sorted(runs, key=lambda r: (r["label"], -r["batch"])):
            t1 = run["split"]["step_s"]
            imgs = run["d_batch"] * run["buckets"].get("d", {}).get("phases_per_step", 1)
            out.append(f"\n**{w}**, per-GPU D batch {run['batch']}, profile `{run['label']}` "
                       f"(1 GPU: {t1:.3f} s/step, {1000 * t1 / imgs:.2f} s/kimg); weak scaling, overlap on, "
                       f"bucket cap {run['bucket_cap_mb']:g} MiB re-bucketed to 25 MiB\n")
            ns = [8, 64, 256, 1024]
            out.append("| interconnect | " + " | ".join(f"N={n}: s/kimg, E(N)" for n in ns) + " |")
            out.append("|---|" + "---|" * len(ns))
            for cl in CLUSTERS:
                cells = []
                for n in ns:
                    t, parts = predict(run, cl, n, overlap=True, cap_mb=25)
                    cells.append(f"{1000 * t / (imgs * n):.3f}, {t1 / t:.2f}")
                out.append(f"| {cl.name} | " + " | ".join(cells) + " |")
        out += strong_table(w, runs)
    text = "\n".join(out)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("calibrate")
    c.add_argument("sweeps", nargs="+")
    v = sub.add_parser("validate")
    v.add_argument("--profile", required=True)
    v.add_argument("--measured", required=True)
    v.add_argument("--sweeps", nargs="+", required=True, metavar="LABEL=SWEEP.json")
    v.add_argument("--contention", nargs="+", metavar="LABEL=BENCH.json",
                   help="the link's contention shares from another bench_grad_sync --contention run")
    k = sub.add_parser("caps")
    k.add_argument("--profile", required=True)
    k.add_argument("--workload", required=True)
    k.add_argument("--sweep", required=True)
    k.add_argument("--caps", default="0.25,1,4,8,25,64")
    k.add_argument("--contention", metavar="BENCH.json", help="the link's contention shares from another run")
    j = sub.add_parser("project")
    j.add_argument("--profile", required=True)
    j.add_argument("--workloads", default="resnet128_pgn,resnet256_pgn")
    j.add_argument("--out")
    j.add_argument("--collectives-from", metavar="RESULTS.json",
                   help="multi-rank results whose synchronized-BN collective counts the 1-GPU profile lacks")
    for s in (c, v, k):
        s.add_argument("--min-bytes", type=int, default=256 * 1024)
    a = p.parse_args()
    {"calibrate": cmd_calibrate, "validate": cmd_validate, "caps": cmd_caps, "project": cmd_project}[a.cmd](a)


if __name__ == "__main__":
    main()
