#!/usr/bin/env python3
"""Are results on N ranks statistically the same as on 1 rank? (issue 12)

Runs and parameters agree to float tolerance only over short runs (the
summation order differs with N, and Adam turns rounding into lr-sized steps:
docs/TECHNIQUES.md), so what users need is that the *results* do not depend
on the GPU count. This benchmark trains the 2-D mixture configs
(configs/ring8_mlp.toml, configs/grid25_mlp.toml: the same global batch on
every N) for `--seeds` seeds at N = 1, 2, 4 ranks, evaluates each final G
with `gantry eval --metrics modes --count 2500` (modes captured, high-quality
share, KL of the mode histogram from uniform); the `fmnist` workload
(opt-in: `--mixtures fmnist`) trains configs/fmnist_dcgan.toml for
`--fmnist-steps` steps (global batch 64 on every N) and evaluates G_ema with
FID-FMNIST and IS-FMNIST in the feature space of the offline classifier
(`gantry eval train-classifier`, trained once into <out>). It tests, per workload, metric
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
  bench/world_size_stats.py --seeds 5 --mixtures fmnist --out runs/world_size_stats   # ~1.5 h
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
METRICS = {"ring8": ("modes", "high_quality", "kl"), "grid25": ("modes", "high_quality", "kl"),
           "fmnist": ("fid", "is")}
FM = "/usr/share/datasets/fashion-mnist"


def run_env():
    return dict(os.environ, GANTRY_THREADS="1", GANTRY_DEVICE="cpu", OMPI_ALLOW_RUN_AS_ROOT="1",
                OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")


def checked(cmd, what, **kw):
    p = subprocess.run(cmd, cwd=ROOT, env=run_env(), capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"world_size_stats.py: {what} failed ({' '.join(cmd)}): {p.stderr[-800:]}")
    return p.stdout


def fmnist_classifier(args):
    """Packs Fashion-MNIST (train, t10k) and trains the offline feature network once."""
    data = os.path.join(ROOT, "runs", "data")
    os.makedirs(data, exist_ok=True)
    for split, stem in (("train", "train"), ("test", "t10k")):
        h5 = os.path.join(data, f"fashion-mnist-{split}.h5")
        if not os.path.isfile(h5):
            checked([args.gantry, "pack", "idx", "--images", f"{FM}/{stem}-images-idx3-ubyte.gz", "--labels",
                     f"{FM}/{stem}-labels-idx1-ubyte.gz", "--out", h5, "--quiet"], f"packing {split}")
    clf = os.path.join(args.out, "fmnist-classifier.pt")
    if not os.path.isfile(clf):
        out = checked([args.gantry, "eval", "train-classifier", "--data", os.path.join(data, "fashion-mnist-train.h5"),
                       "--test", os.path.join(data, "fashion-mnist-test.h5"), "--out", clf + ".tmp", "--name",
                       "FMNIST"], "classifier training")
        os.replace(clf + ".tmp", clf)
        with open(os.path.join(args.out, "fmnist-classifier.json"), "w") as fh:
            fh.write(out)
    return clf


def train_and_eval(args, mixture, ranks, seed):
    run = os.path.join(args.out, f"{mixture}-n{ranks}-s{seed}")
    shutil.rmtree(run, ignore_errors=True)
    fmnist = mixture == "fmnist"
    steps = args.fmnist_steps if fmnist else args.steps
    config = "configs/fmnist_dcgan.toml" if fmnist else f"configs/{mixture}_mlp.toml"
    checked(["mpirun", "-np", str(ranks), args.gantry, "train", "--config", config, "--run-dir", run, "--quiet",
             "--set", f"train.steps={steps}", "--set", f"train.seed={seed}", "--set", "eval.every=0",
             "--set", f"train.checkpoint_every={steps}", "--set", f"log.sample_every={steps}"], "training")
    if fmnist:
        ev = [args.gantry, "eval", "--run-dir", run, "--metrics", "is,fid", "--ema", "--count", "10000",
              "--feature-net", fmnist_classifier(args), "--stats-cache", os.path.join(args.out, "fid-stats")]
    else:
        ev = [args.gantry, "eval", "--run-dir", run, "--metrics", "modes", "--count", "2500"]
    result = json.loads(checked(ev + ["--seed", "123"], f"eval of {run}").strip().splitlines()[-1])
    shutil.rmtree(run, ignore_errors=True)  # checkpoints are not needed once measured
    return result


def pick(result):
    """modes captured, high-quality share, KL of the mode histogram (gantry eval's "modes" object), or
    FID-FMNIST and the IS-FMNIST mean."""
    if "FID-FMNIST" in result:
        return {"fid": float(result["FID-FMNIST"]["value"]), "is": float(result["IS-FMNIST"]["mean"])}
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
        for metric in METRICS[mixture]:
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
    ap.add_argument("--steps", type=int, default=4000, help="steps of the 2-D mixtures")
    ap.add_argument("--fmnist-steps", type=int, default=600, help="steps of the fmnist workload")
    ap.add_argument("--out", default="runs/world_size_stats")
    ap.add_argument("--gantry", default=os.path.join(ROOT, "build", "gantry"))
    ap.add_argument("--report", metavar="DIR")
    args = ap.parse_args()
    if args.report:
        print(json.dumps(report(args.report), indent=1))
        return
    if args.seeds < 2 or args.steps < 1 or args.fmnist_steps < 1:
        sys.exit("world_size_stats.py: --seeds must be >= 2 and --steps, --fmnist-steps positive")
    unknown = set(args.mixtures.split(",")) - set(METRICS)
    if unknown:
        sys.exit(f"world_size_stats.py: unknown workload {sorted(unknown)[0]} (known: {', '.join(METRICS)})")
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
                    steps = args.fmnist_steps if mixture == "fmnist" else args.steps
                    fh.write(json.dumps({"mixture": mixture, "ranks": n, "seed": seed, "steps": steps,
                                         "metrics": pick(result), "eval": result}) + "\n")
    print(json.dumps(report(args.out), indent=1))


if __name__ == "__main__":
    main()
