#!/usr/bin/env python3
"""Are results on N ranks statistically the same as on 1 rank? (issue 12)

Runs and parameters agree to float tolerance only over short runs (the
summation order differs with N, and Adam turns rounding into lr-sized steps:
docs/TECHNIQUES.md), so what users need is that the *results* do not depend
on the GPU count. This benchmark trains the 2-D mixture configs
(configs/ring8_mlp.toml, configs/grid25_mlp.toml: the same global batch on
every N) for `--seeds` seeds at N = 1, 2, 4 ranks, evaluates each final G
with `gantry eval --metrics modes --count 2500` (modes captured, high-quality
share, KL of the mode histogram from uniform), and tests, per mixture, metric
and N > 1, the hypothesis "N ranks and 1 rank give the same distribution of
the metric over seeds" with a two-sided permutation test of the difference
of means (all relabelings when there are at most 20,000, else 20,000 random
ones). The verdict "indistinguishable" means no test rejects at 5 % after a
Bonferroni correction over all tests; the table also gives mean ± standard
error per N, so that a reader sees the size of any difference, not only p.

Each run's result is appended to <out>/runs.jsonl when it finishes, and a
rerun skips the runs already there (resumable across sessions); `--report`
prints the table from what is there.

  bench/world_size_stats.py --seeds 5 --out runs/world_size_stats        # ~1 h on 2 cores
  bench/world_size_stats.py --report runs/world_size_stats
"""
import argparse
import itertools
import json
import math
import os
import random
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METRICS = ("modes", "high_quality", "kl")


def train_and_eval(args, mixture, ranks, seed):
    run = os.path.join(args.out, f"{mixture}-n{ranks}-s{seed}")
    shutil.rmtree(run, ignore_errors=True)
    env = dict(os.environ, GANTRY_THREADS="1", GANTRY_DEVICE="cpu", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    train = ["mpirun", "-np", str(ranks), args.gantry, "train", "--config", f"configs/{mixture}_mlp.toml",
             "--run-dir", run, "--quiet", "--set", f"train.steps={args.steps}", "--set", f"train.seed={seed}",
             "--set", "eval.every=0", "--set", f"train.checkpoint_every={args.steps}"]
    p = subprocess.run(train, cwd=ROOT, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"world_size_stats.py: training failed ({' '.join(train)}): {p.stderr[-800:]}")
    ev = subprocess.run([args.gantry, "eval", "--run-dir", run, "--metrics", "modes", "--count", "2500", "--seed",
                         "123"], cwd=ROOT, env=env, capture_output=True, text=True)
    if ev.returncode != 0:
        sys.exit(f"world_size_stats.py: eval failed for {run}: {ev.stderr[-800:]}")
    result = json.loads(ev.stdout.strip().splitlines()[-1])
    shutil.rmtree(run, ignore_errors=True)  # checkpoints are not needed once measured
    return result


def pick(result):
    """modes captured, high-quality share, KL of the mode histogram (gantry eval's "modes" object)."""
    m = result["modes"]
    return {"modes": float(m["captured"]), "high_quality": float(m["high_quality_share"]), "kl": float(m["kl"])}


def permutation_p(a, b, limit=20000, rng=random.Random(0)):
    """Two-sided p of |mean(a) − mean(b)| under relabeling."""
    pooled, na = a + b, len(a)
    observed = abs(sum(a) / na - sum(b) / len(b))
    total = math.comb(len(pooled), na)
    if total <= limit:
        splits = (set(c) for c in itertools.combinations(range(len(pooled)), na))
    else:
        splits = (set(rng.sample(range(len(pooled)), na)) for _ in range(limit))
        total = limit
    hits = 0
    for s in splits:
        x = [pooled[i] for i in s]
        y = [pooled[i] for i in range(len(pooled)) if i not in s]
        hits += abs(sum(x) / len(x) - sum(y) / len(y)) >= observed - 1e-12
    return hits / total


def report(out):
    rows = [json.loads(ln) for ln in open(os.path.join(out, "runs.jsonl")) if ln.strip()]
    table, tests = [], []
    for mixture in sorted({r["mixture"] for r in rows}):
        by_n = {}
        for r in rows:
            if r["mixture"] == mixture:
                by_n.setdefault(r["ranks"], []).append(r["metrics"])
        for metric in METRICS:
            line = {"mixture": mixture, "metric": metric}
            for n, ms in sorted(by_n.items()):
                xs = [m[metric] for m in ms if metric in m]
                if not xs:
                    continue
                mean = sum(xs) / len(xs)
                se = (sum((x - mean) ** 2 for x in xs) / (len(xs) - 1) / len(xs)) ** 0.5 if len(xs) > 1 else float("nan")
                line[f"n{n}"] = {"mean": round(mean, 4), "se": round(se, 4), "seeds": len(xs)}
                if n != 1 and 1 in by_n:
                    base = [m[metric] for m in by_n[1] if metric in m]
                    if len(base) > 1 and len(xs) > 1:
                        p = permutation_p(xs, base)
                        line[f"p_n{n}_vs_n1"] = round(p, 4)
                        tests.append(p)
            table.append(line)
    alpha = 0.05 / max(1, len(tests))
    verdict = "indistinguishable" if tests and min(tests) >= alpha else ("differ" if tests else "no tests yet")
    return {"runs": len(rows), "tests": len(tests), "bonferroni_alpha": alpha, "verdict": verdict, "table": table}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--ranks", default="1,2,4")
    ap.add_argument("--mixtures", default="ring8,grid25")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--out", default="runs/world_size_stats")
    ap.add_argument("--gantry", default=os.path.join(ROOT, "build", "gantry"))
    ap.add_argument("--report", metavar="DIR")
    args = ap.parse_args()
    if args.report:
        print(json.dumps(report(args.report), indent=1))
        return
    if args.seeds < 2 or args.steps < 1:
        sys.exit("world_size_stats.py: --seeds must be >= 2 and --steps positive")
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "runs.jsonl")
    done = set()
    if os.path.isfile(path):
        done = {(r["mixture"], r["ranks"], r["seed"]) for r in map(json.loads, open(path)) if r}
    ranks = [int(x) for x in args.ranks.split(",")]
    for seed in range(args.seeds):  # seeds outermost: a cut-short campaign still has every N
        for mixture in args.mixtures.split(","):
            for n in ranks:
                if (mixture, n, seed) in done:
                    continue
                result = train_and_eval(args, mixture, n, seed)
                with open(path, "a") as fh:
                    fh.write(json.dumps({"mixture": mixture, "ranks": n, "seed": seed, "steps": args.steps,
                                         "metrics": pick(result), "eval": result}) + "\n")
    print(json.dumps(report(args.out), indent=1))


if __name__ == "__main__":
    main()
