#!/usr/bin/env python3
"""gantry against the PyTorch reference loop (bench/torch_reference.py
--device cuda, eager) on one GPU, same configs, same data, same run: img/s,
s/kimg and peak GPU memory per workload and precision variant, and the data
loader's img/s against what the trainer consumes. Run by scripts/gpu_check.sh.

  bench/gpu_bench.py [--workloads dcgan64,sngan32_pgn,resnet128_pgn,resnet256_pgn]
                     [--variants fp32,bf16_cl,bf16,fp32_cl] [--reps 1] [--build build-gpu]
                     [--python python3] [--work DIR] --out RESULTS.json
  bench/gpu_bench.py --summarize RESULTS.json     (a table of a results file)

Variants: fp32 (NCHW), fp32_cl (channels_last), bf16 (autocast), bf16_cl
(both). Runs go in order of value (every workload in fp32, then bf16_cl, then
the rest), gantry and the reference alternating, and RESULTS.json is
rewritten after every run, so a run stopped at a time limit keeps what it
measured. Each side: `every` warm-up steps, then `every · windows` timed steps;
gantry's img/s from its metrics.jsonl windows after the first, the
reference's from its own timer (CUDA synchronized at both ends). Exit 1 if a
run failed (its log's tail on stderr; the rest still run).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_workloads as pw  # noqa: E402

# name: config, overrides, data shape and count, timing (every, windows). As configured
# otherwise: the configs' own batches, n_dis and PGN.
WORKLOADS = {
    "dcgan64": dict(config="configs/fmnist_dcgan.toml", sets=["model.resolution=64", "model.channels=3"],
                    shape=(3, 64, 64), count=4096, every=100, windows=2),
    "sngan32_pgn": dict(config="configs/sngan_cnn_pgn.toml", sets=[], shape=(3, 32, 32), count=4096,
                        every=25, windows=2),
    "resnet128_pgn": dict(config="configs/celebahq128_resnet_pgn.toml", sets=[], shape=(3, 128, 128), count=1024,
                          every=4, windows=2),
    "resnet256_pgn": dict(config="configs/celebahq256_resnet_pgn.toml", sets=[], shape=(3, 256, 256), count=512,
                          every=2, windows=2),
}
VARIANTS = {
    "fp32": ["train.precision=\"fp32\"", "train.channels_last=false"],
    "fp32_cl": ["train.precision=\"fp32\"", "train.channels_last=true"],
    "bf16": ["train.precision=\"bf16\"", "train.channels_last=false"],
    "bf16_cl": ["train.precision=\"bf16\"", "train.channels_last=true"],
}
BIG = 10 ** 9


def run(cmd, log_path, env, timeout):
    with open(log_path, "w") as log:
        log.write(" ".join(cmd) + "\n")
        log.flush()
        try:
            rc = subprocess.run(cmd, cwd=pw.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    with open(log_path) as log:
        text = log.read()
    if rc != 0:
        sys.stderr.write(f"gpu_bench: failed ({rc}): {' '.join(cmd)}\n" + "".join(text.splitlines(True)[-12:]))
    return rc == 0, text


def gpu_env(args):
    env = dict(os.environ, GANTRY_DEVICE=args.device, GANTRY_THREADS=str(args.threads))
    return env


def run_gantry(name, variant, rep, args, data):
    w = WORKLOADS[name]
    run_dir = os.path.join(args.work, "runs", f"{name}-{variant}-{rep}-gantry")
    subprocess.run(["rm", "-rf", run_dir])
    os.makedirs(run_dir)
    sets = w["sets"] + VARIANTS[variant] + [
        f'data.path="{data}"', "data.in_memory=true", f"train.steps={w['every'] * (1 + w['windows'])}",
        f"log.every={w['every']}", f"train.checkpoint_every={BIG}", f"log.sample_every={BIG}", "log.sample_count=4"]
    # One rank, unbound (launch/mpirun.sh would pin it to one core, with its loader threads; the reference is free).
    cmd = ["mpirun", "-np", "1", "--bind-to", "none", "-x", "GANTRY_DEVICE", "-x", "GANTRY_THREADS",
           os.path.join(args.build, "gantry"), "train", "--config", w["config"], "--run-dir", run_dir, "--quiet"]
    for s in sets:
        cmd += ["--set", s]
    ok, _ = run(cmd, run_dir + ".log", gpu_env(args), args.timeout)
    if not ok:
        return None
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        rows = [r for r in map(json.loads, f) if "img_s" in r]
    timed = rows[1:]
    if not timed:
        return None
    img_s = len(timed) / sum(1 / r["img_s"] for r in timed)  # equal images per window
    subprocess.run(["sh", "-c", f"rm -f {run_dir}/ckpt-*"])
    return {"img_s": img_s, "peak_gpu_mb": max(r.get("peak_gpu_mb", -1) for r in rows)}


def run_reference(name, variant, rep, args, data):
    w = WORKLOADS[name]
    log = os.path.join(args.work, "runs", f"{name}-{variant}-{rep}-reference.log")
    sets = w["sets"] + VARIANTS[variant] + [f'data.path="{data}"']
    cmd = [args.python, "bench/torch_reference.py", "--config", w["config"], "--device", args.device,
           "--warmup", str(w["every"]), "--steps", str(w["every"] * w["windows"]), "--threads", str(args.threads),
           "--name", name] + [a for s in sets for a in ("--set", s)]
    ok, text = run(cmd, log, dict(os.environ), args.timeout)
    result = pw.last_json(text) if ok else None
    if not result or "img_s" not in result:
        return None
    return {"img_s": result["img_s"], "peak_gpu_mb": result.get("peak_gpu_mb", -1)}


def loader_check(args, data_256, results):
    """The loader's img/s at 256² on this machine's cores (bench_reader) vs the trainer's consumption."""
    binary = os.path.join(args.build, "bench", "bench_reader")
    if not os.path.isfile(binary):
        return
    log = os.path.join(args.work, "reader.log")
    ok, text = run(["mpirun", "-np", "1", "--bind-to", "none", binary, "--res", "256",
                    "--layouts", "1:0,16:0", "--count", "512", "--dir", os.path.join(args.work, "reader")],
                   log, dict(os.environ, GANTRY_DEVICE="cpu"), args.timeout)
    result = pw.last_json(text) if ok else None
    if result:
        results["loader_256"] = result


def summarize(path):
    with open(path) as f:
        r = json.load(f)
    lines = []
    for name, per in r.get("results", {}).items():
        for variant, v in per.items():
            g, ref = v.get("gantry_median"), v.get("reference_median")
            ratio = f"{g / ref:.2f}x" if g and ref else "n/a"
            gs = f"{g:8.1f}" if g else "  failed"
            rs = f"{ref:8.1f}" if ref else "  failed"
            skimg = f"{1000 / g:6.2f}" if g else "   n/a"
            lines.append(f"{name:14s} {variant:8s} gantry {gs}  torch {rs}  ratio {ratio:6s} "
                         f"s/kimg {skimg}  peak MB gantry {v.get('gantry_peak_mb', -1):.0f} "
                         f"torch {v.get('reference_peak_mb', -1):.0f}")
    if "loader_256" in r:
        lines.append("loader 256²: " + json.dumps(r["loader_256"])[:300])
    return "\n".join(lines) if lines else "no results"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--variants", default="fp32,bf16_cl,bf16,fp32_cl")
    p.add_argument("--reps", type=int, default=1)
    p.add_argument("--build", default="build-gpu")
    p.add_argument("--python", default="python3")
    p.add_argument("--threads", type=int, default=min(8, os.cpu_count() or 1), help="intra-op threads, both sides")
    p.add_argument("--timeout", type=int, default=300, help="seconds per run")
    p.add_argument("--deadline", type=float, default=0,
                   help="seconds from start after which no run starts that would not end in time (0: none); "
                        "the results so far are kept")
    p.add_argument("--work", default="runs/gpu_bench")
    p.add_argument("--out")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu: a check of this script itself")
    p.add_argument("--quick", action="store_true", help="2 warm-up steps and 2 timed ones (a check of this script)")
    p.add_argument("--summarize", metavar="RESULTS.json")
    args = p.parse_args()
    if args.summarize:
        print(summarize(args.summarize))
        return 0
    if not args.out:
        pw.die("--out RESULTS.json is required")
    names = [n for n in args.workloads.split(",") if n]
    if args.quick:
        for w in WORKLOADS.values():
            w["every"], w["windows"], w["count"] = 2, 1, 256
    variants = [v for v in args.variants.split(",") if v]
    for n in names:
        if n not in WORKLOADS:
            pw.die(f"unknown workload '{n}' (choose from {', '.join(WORKLOADS)})")
    for v in variants:
        if v not in VARIANTS:
            pw.die(f"unknown variant '{v}' (choose from {', '.join(VARIANTS)})")
    args.build = os.path.abspath(args.build)
    args.work = os.path.abspath(args.work)
    os.makedirs(os.path.join(args.work, "runs"), exist_ok=True)
    gantry = os.path.join(args.build, "gantry")
    data = {}
    for n in names:
        c, h, w = WORKLOADS[n]["shape"]
        path = os.path.join(args.work, f"synth-{c}x{h}x{w}-{WORKLOADS[n]['count']}.h5")
        if not os.path.isfile(path):
            ok, _ = run([gantry, "synth", "--shape", f"{c},{h},{w}", "--count", str(WORKLOADS[n]["count"]), "--seed",
                         "0", "--out", path, "--quiet"], path + ".log", dict(os.environ), args.timeout)
            if not ok:
                pw.die(f"gantry synth failed (log: {path}.log)", 1)
        data[n] = path
    started = time.time()
    out = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "reps": args.reps, "threads": args.threads,
           "workloads": {n: WORKLOADS[n] for n in names}, "results": {}}
    failed = False
    last_run = {}  # (workload, side): seconds of its last run, the estimate of the next

    def save():
        with open(args.out + ".tmp", "w") as f:
            json.dump(out, f, indent=1)
        os.replace(args.out + ".tmp", args.out)

    # Order of value: every workload in the first variant, then the next variant, ...
    for variant in variants:
        for name in names:
            sides = {"gantry": [], "reference": []}
            peaks = {"gantry": [], "reference": []}
            for rep in range(args.reps):
                for impl, fn in (("gantry", run_gantry), ("reference", run_reference)):
                    estimate = last_run.get((name, impl), 30.0)
                    if args.deadline and time.time() - started + estimate > args.deadline:
                        out.setdefault("not_run", []).append(f"{name} {variant} rep {rep} {impl}")
                        print(f"gpu_bench: deadline: {name} {variant} {impl} not run", file=sys.stderr, flush=True)
                        continue
                    t0 = time.time()
                    r = fn(name, variant, rep, args, data[name])
                    last_run[(name, impl)] = time.time() - t0
                    if r is None:
                        failed = True
                        continue
                    sides[impl].append(r["img_s"])
                    peaks[impl].append(r["peak_gpu_mb"])
                    print(f"gpu_bench: {name} {variant} rep {rep} {impl}: {r['img_s']:.1f} img/s "
                          f"({time.time() - started:.0f} s)", file=sys.stderr, flush=True)
            entry = {"gantry_img_s": sides["gantry"], "reference_img_s": sides["reference"],
                     "gantry_median": statistics.median(sides["gantry"]) if sides["gantry"] else None,
                     "reference_median": statistics.median(sides["reference"]) if sides["reference"] else None,
                     "gantry_peak_mb": max(peaks["gantry"], default=-1),
                     "reference_peak_mb": max(peaks["reference"], default=-1)}
            if entry["gantry_median"] and entry["reference_median"]:
                entry["ratio_gantry_over_reference"] = entry["gantry_median"] / entry["reference_median"]
            out["results"].setdefault(name, {})[variant] = entry
            save()
    if "resnet256_pgn" in names and not (args.deadline and time.time() - started + 30 > args.deadline):
        loader_check(args, data["resnet256_pgn"], out)
        save()
    out["seconds"] = time.time() - started
    save()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
