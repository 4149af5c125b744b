#!/usr/bin/env python3
"""Black-box hostile-input campaign (issue 12): N generated cases of bad
configs, `--set` values, command lines, damaged datasets, idx files, image
folders and checkpoints, each run through the gantry executable as a user
would, and classified from outside:

  accepted   exit 0, and where the input was damaged, what gantry read is
             what the undamaged input holds (same dataset digest, same
             packed pixels) -- otherwise "silently_accepted" (a bug)
  refused    exit 1 or 2 with exactly one stderr line starting "gantry: "
             (besides the launcher's lines when a case runs under mpirun)
  bug        a signal or crash, a hang (timeout), a multi-line error or a
             stack dump, exit codes other than 0/1/2, silently accepted damage

Cases are a pure function of (--seed, case index), so a campaign is
reproducible; results are appended to <out>/cases.jsonl as they finish and a
rerun skips the cases already there (resumable). A summary is printed as
JSON and written to <out>/summary.json; exit 1 if any case is a bug.

  bench/hostile_campaign.py --cases 1000 --out runs/hostile     # ~30 min on 2 cores
  bench/hostile_campaign.py --summary runs/hostile
"""
import argparse
import gzip
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

HOSTILE_VALUES = [
    "0", "-1", "-9223372036854775808", "9223372036854775807", "4611686018427387904", "1e308", "-1e308",
    "nan", "inf", "-inf", "1.5", "0.0", "1e-320", '""', '"x"', '"\\u0000"', '"../../etc/passwd"',
    "true", "false", "[]", "[1, 2]", "{}", "{ a = 1 }", "2026-11-30", '"' + "A" * 5000 + '"', "0x10",
    "1_000", "+5", "--5", "=", "'single'", '"bn"', '"mlp"', '"dcgan"', '"hinge"', '"none"', '"sn"',
]

CONFIG_KEYS = [
    "model.arch", "model.resolution", "model.channels", "model.z_dim", "model.g_width", "model.d_width",
    "model.g_norm", "model.d_norm", "model.g_weight_norm", "model.d_weight_norm", "model.mlp_hidden",
    "model.mlp_depth", "model.data_dim", "model.mbd_kernels", "model.mbd_kernel_dim", "model.vbn_reference",
    "model.sdeconv_sets", "data.batch", "data.shift", "data.hflip", "data.path", "data.mixture",
    "train.steps", "train.n_dis", "train.loss", "train.lr_g", "train.lr_d", "train.beta1_g", "train.beta2_d",
    "train.g_batch", "train.seed", "train.checkpoint_every", "train.keep_checkpoints", "train.ema_beta",
    "train.ema_start", "train.bucket_cap_mb", "train.max_bad_steps", "train.precision", "train.lr_schedule",
    "train.stop_signals", "reg.direal_d", "reg.direal_g", "reg.r1_gamma", "reg.wgan_gp", "reg.feature_matching",
    "reg.label_smoothing", "reg.ha_lambda_d", "log.every", "log.sample_every", "log.sample_count", "log.timing",
    "eval.count", "eval.every", "eval.metrics", "nonexistent.key", "model", "",
]

TINY_TOML = """[model]
arch = "dcgan"
resolution = 28
channels = 1
z_dim = 8
g_width = 4
d_width = 4
[data]
path = "{data}"
batch = 4
[train]
steps = 1
checkpoint_every = 1
[log]
every = 1
sample_every = 1
sample_count = 4
"""


class Runner:
    def __init__(self, args):
        self.gantry = os.path.abspath(args.gantry)
        self.out = os.path.abspath(args.out)
        self.timeout = args.timeout
        self.fixtures = os.path.join(self.out, "fixtures")
        self.env = dict(os.environ, GANTRY_THREADS="1", GANTRY_DEVICE="cpu", OMPI_ALLOW_RUN_AS_ROOT="1",
                        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1",
                        GANTRY_COLLECTIVE_TIMEOUT_S="60")

    def run(self, argv, cwd, ranks=0):
        cmd = ([] if not ranks else ["mpirun", "-np", str(ranks)]) + [self.gantry] + argv
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, cwd=cwd, env=self.env, capture_output=True, timeout=self.timeout)
            rc, err = p.returncode, p.stderr.decode(errors="replace")
            out = p.stdout.decode(errors="replace")
        except subprocess.TimeoutExpired as e:
            rc, err, out = "timeout", (e.stderr or b"").decode(errors="replace"), ""
        return rc, out, err, time.monotonic() - t0

    # -- fixtures: made once, valid inputs that cases damage --------------------------------
    def make_fixtures(self):
        if os.path.isfile(os.path.join(self.fixtures, "done")):
            return
        shutil.rmtree(self.fixtures, ignore_errors=True)
        os.makedirs(self.fixtures)
        f = self.fixtures
        self.must(["synth", "--shape", "1,28,28", "--count", "32", "--seed", "1", "--out", "d.h5", "--quiet"], f)
        self.must(["synth", "--shape", "1,28,28", "--count", "32", "--seed", "1", "--gzip", "4", "--out", "dz.h5",
                   "--quiet"], f)
        with open(os.path.join(f, "tiny.toml"), "w") as fh:
            fh.write(TINY_TOML.format(data="d.h5"))
        self.must(["train", "--config", "tiny.toml", "--run-dir", "run", "--quiet"], f)
        rng = random.Random(5)
        images = bytes(rng.randrange(256) for _ in range(6 * 28 * 28))
        idx = bytes([0, 0, 8, 3]) + struct.pack(">III", 6, 28, 28) + images
        with open(os.path.join(f, "images.idx.gz"), "wb") as fh:
            fh.write(gzip.compress(idx, mtime=0))
        with open(os.path.join(f, "labels.idx.gz"), "wb") as fh:
            fh.write(gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 6) + bytes(range(6)), mtime=0))
        self.must(["pack", "idx", "--images", "images.idx.gz", "--labels", "labels.idx.gz", "--out", "idx.h5",
                   "--quiet"], f)
        os.makedirs(os.path.join(f, "imgs"))
        self.write_images(os.path.join(f, "imgs"))
        self.must(["pack", "images", "--dir", "imgs", "--size", "16", "--out", "imgs.h5", "--quiet"], f)
        with open(os.path.join(f, "done"), "w") as fh:
            fh.write("ok\n")

    def write_images(self, folder):
        """PNGs and JPEGs made by Pillow (an independent encoder)."""
        from PIL import Image
        import numpy as np
        rng = np.random.default_rng(3)
        for i in range(3):
            px = rng.integers(0, 256, size=(20 + i, 24, 3), dtype=np.uint8)
            Image.fromarray(px).save(os.path.join(folder, f"p{i}.png"))
            Image.fromarray(px).save(os.path.join(folder, f"j{i}.jpg"), quality=90)

    def must(self, argv, cwd):
        rc, out, err, _ = self.run(argv, cwd)
        if rc != 0:
            sys.exit(f"hostile_campaign.py: fixture step failed ({' '.join(argv)}): {err[-500:]}")
        return out

    def digest(self, h5, cwd):
        rc, out, _, _ = self.run(["inspect", "--verify", h5], cwd)
        return json.loads(out)["checksum"] if rc == 0 else None


def damage(data, rng):
    """One of: flip bits, overwrite a run of bytes, truncate, append garbage, duplicate a block."""
    d = bytearray(data)
    kind = rng.choice(["flip", "flip", "overwrite", "truncate", "append", "dup"])
    if kind == "flip":
        for _ in range(rng.choice([1, 1, 2, 8])):
            i = rng.randrange(len(d))
            d[i] ^= 1 << rng.randrange(8)
    elif kind == "overwrite":
        i = rng.randrange(len(d))
        for k in range(i, min(len(d), i + rng.randrange(1, 64))):
            d[k] = rng.randrange(256)
    elif kind == "truncate":
        d = d[:rng.randrange(len(d))]
    elif kind == "append":
        d += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4096)))
    else:
        i = rng.randrange(len(d))
        d[i:i] = d[i:i + rng.randrange(1, 512)]
    return bytes(d), kind


def damage_file(source, target, rng):
    """target := source's bytes, damaged; returns how."""
    with open(source, "rb") as fh:
        bad, how = damage(fh.read(), rng)
    with open(target, "wb") as fh:
        fh.write(bad)
    return how


def classify(rc, err, launcher=False):
    if rc == "timeout":
        return "bug", "hang (timeout)"
    if rc == 0:
        return "accepted", ""
    if rc < 0 or rc > 2:
        return "bug", f"exit {rc}"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if launcher:  # mpirun's own lines after a rank's non-zero exit
        lines = [ln for ln in lines if ln.startswith("gantry")]
    if len(lines) != 1 or not lines[0].startswith("gantry"):
        return "bug", f"exit {rc} with {len(lines)} error lines: {' | '.join(lines[:3])[:300]}"
    return "refused", lines[0][:300]


def case(runner, index, seed, work):
    rng = random.Random(seed * 1000003 + index)
    f = runner.fixtures
    kind = rng.choice(["config_file", "set", "set", "flags", "dataset", "dataset", "idx", "images", "checkpoint",
                       "checkpoint"])
    desc = {"case": index, "kind": kind}
    if kind in ("config_file", "set"):
        key = rng.choice(CONFIG_KEYS)
        value = rng.choice(HOSTILE_VALUES)
        argv = ["train", "--config", os.path.join(f, "tiny.toml"), "--run-dir", "run", "--quiet",
                "--set", f"data.path={os.path.join(f, 'd.h5')}"]
        if kind == "config_file":
            section, _, name = key.partition(".")
            text = TINY_TOML.format(data=os.path.join(f, "d.h5"))
            text += f"\n[{section or 'x'}]\n{name or 'y'} = {value}\n" if rng.random() < 0.8 else f"\n{value}\n"
            with open(os.path.join(work, "c.toml"), "w") as fh:
                fh.write(text)
            argv[2] = "c.toml"
            desc["toml_tail"] = text[-200:]
        else:
            argv += ["--set", f"{key}={value}"]
            desc["set"] = f"{key}={value}"[:200]
        ranks = rng.choice([0, 0, 0, 2])
        rc, _, err, secs = runner.run(argv, work, ranks)
        verdict, why = classify(rc, err, launcher=bool(ranks))
    elif kind == "flags":
        sub = rng.choice([["train"], ["pack", "idx"], ["pack", "images"], ["synth"], ["inspect"], ["diff"],
                          ["sample"], ["export"], ["eval"], ["smoke"], []])
        pool = ["--config", "--run-dir", "--set", "--count", "--out", "--shape", "--seed", "--gzip", "--size",
                "--channels", "--tol", "--rtol", "--checkpoint", "--images", "--labels", "--dir", "--threads",
                "--metrics", "--chunk-images", "--bogus", "-x", "--"]
        argv = list(sub)
        for _ in range(rng.randrange(0, 6)):
            argv.append(rng.choice(pool))
            if rng.random() < 0.7:
                argv.append(rng.choice(HOSTILE_VALUES + ["1,28,28", "0,0,0", "x.h5", f, "/dev/null", "/"]))
        desc["argv"] = argv
        rc, _, err, secs = runner.run(argv, work)
        verdict, why = classify(rc, err)
        if verdict == "accepted" and not sub:
            verdict, why = "accepted", "help"
    elif kind == "dataset":
        src = rng.choice(["d.h5", "dz.h5", "idx.h5"])
        how = damage_file(os.path.join(f, src), os.path.join(work, "x.h5"), rng)
        desc.update(source=src, damage=how)
        use = rng.choice(["inspect", "train"])
        if use == "inspect":
            rc, out, err, secs = runner.run(["inspect", "--verify", "x.h5"], work)
        else:
            # One epoch (32 images, batch 4): training reads every image, so damage anywhere is met.
            rc, out, err, secs = runner.run(["train", "--config", os.path.join(f, "tiny.toml"), "--run-dir", "run",
                                             "--quiet", "--set", "data.path=x.h5", "--set", "train.steps=8"], work)
        verdict, why = classify(rc, err)
        if verdict == "accepted" and runner.digest("x.h5", work) != runner.digest(os.path.join(f, src), work):
            verdict, why = "bug", "silently_accepted: damaged dataset read with other contents"
        desc["use"] = use
    elif kind == "idx":
        which = rng.choice(["images.idx.gz", "labels.idx.gz"])
        shutil.copy(os.path.join(f, "images.idx.gz"), os.path.join(work, "i.gz"))
        shutil.copy(os.path.join(f, "labels.idx.gz"), os.path.join(work, "l.gz"))
        how = damage_file(os.path.join(f, which), os.path.join(work, "i.gz" if which.startswith("images") else "l.gz"),
                          rng)
        desc.update(file=which, damage=how)
        rc, _, err, secs = runner.run(["pack", "idx", "--images", "i.gz", "--labels", "l.gz", "--out", "p.h5",
                                       "--quiet"], work)
        verdict, why = classify(rc, err)
        if verdict == "accepted" and runner.digest("p.h5", work) != runner.digest(os.path.join(f, "idx.h5"), work):
            verdict, why = "bug", "silently_accepted: damaged idx packed with other contents"
    elif kind == "images":
        folder = os.path.join(work, "imgs")
        shutil.copytree(os.path.join(f, "imgs"), folder)
        name = rng.choice(sorted(os.listdir(folder)))
        how = damage_file(os.path.join(folder, name), os.path.join(folder, name), rng)
        desc.update(file=name, damage=how)
        rc, _, err, secs = runner.run(["pack", "images", "--dir", "imgs", "--size", "16", "--out", "p.h5",
                                       "--quiet"], work)
        verdict, why = classify(rc, err)
        if verdict == "accepted" and runner.digest("p.h5", work) != runner.digest(os.path.join(f, "imgs.h5"), work):
            # JPEG carries no checksum: entropy-coded damage that still decodes cannot be told from an image.
            verdict, why = ("accepted_jpeg_changed", "JPEG without checksum decoded to other pixels") \
                if name.endswith(".jpg") else ("bug", "silently_accepted: damaged PNG packed with other pixels")
    else:  # checkpoint: damage the run's checkpoint, then read it as each tool does
        run = os.path.join(work, "run")
        shutil.copytree(os.path.join(f, "run"), run)
        ckpt = sorted(p for p in os.listdir(run) if p.startswith("ckpt-"))[-1]
        how = damage_file(os.path.join(run, ckpt), os.path.join(run, ckpt), rng)
        use = rng.choice(["inspect", "sample", "export", "train", "diff"])
        desc.update(damage=how, use=use)
        path = os.path.join(run, ckpt)
        argv = {"inspect": ["inspect", "--checkpoint", path],
                "sample": ["sample", "--checkpoint", path, "--count", "4", "--out", "s.png"],
                "export": ["export", "--checkpoint", path, "--out", "g.safetensors"],
                "train": ["train", "--config", os.path.join(f, "tiny.toml"), "--run-dir", "run", "--quiet",
                          "--set", f"data.path={os.path.join(f, 'd.h5')}", "--set", "train.steps=2"],
                "diff": ["diff", path, os.path.join(f, "run", ckpt)]}[use]
        rc, out, err, secs = runner.run(argv, work)
        verdict, why = classify(rc, err)
        if use == "train" and rc == 0:  # the only checkpoint is damaged: say so and start afresh, or it loaded
            verdict, why = ("accepted", "reported and started afresh") if "unusable" in err else \
                ("bug", "silently_accepted: resumed from a damaged checkpoint without a word")
        if use == "diff" and rc == 1 and not err.strip():
            verdict, why = "refused", "reported as different"
    desc.update(rc=rc if rc != "timeout" else "timeout", verdict=verdict, why=why, seconds=round(secs, 2))
    return desc


def summarize(path):
    rows = [json.loads(ln) for ln in open(path) if ln.strip()]
    counts = {}
    for r in rows:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    by_kind = {}
    for r in rows:
        by_kind.setdefault(r["kind"], {}).setdefault(r["verdict"], 0)
        by_kind[r["kind"]][r["verdict"]] += 1
    bugs = [r for r in rows if r["verdict"] == "bug"]
    return {"cases": len(rows), "verdicts": counts, "by_kind": by_kind, "bugs": bugs[:50]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="runs/hostile")
    p.add_argument("--gantry", default=os.path.join(ROOT, "build", "gantry"))
    p.add_argument("--timeout", type=float, default=120, help="seconds before a case counts as a hang")
    p.add_argument("--summary", metavar="DIR", help="summarize an earlier campaign")
    args = p.parse_args()
    if args.summary:
        print(json.dumps(summarize(os.path.join(args.summary, "cases.jsonl")), indent=1))
        return
    if args.cases < 1 or args.timeout <= 0:
        sys.exit("hostile_campaign.py: --cases and --timeout must be positive")
    runner = Runner(args)
    os.makedirs(runner.out, exist_ok=True)
    runner.make_fixtures()
    results = os.path.join(runner.out, "cases.jsonl")
    done = set()
    if os.path.isfile(results):
        done = {json.loads(ln)["case"] for ln in open(results) if ln.strip()}
    with open(results, "a") as fh:
        for i in range(args.cases):
            if i in done:
                continue
            work = os.path.join(runner.out, "work")
            shutil.rmtree(work, ignore_errors=True)
            os.makedirs(work)
            row = case(runner, i, args.seed, work)
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            if row["verdict"] == "bug":
                print(f"case {i}: BUG {row['why']}", file=sys.stderr)
    summary = summarize(results)
    with open(os.path.join(runner.out, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=1)
    print(json.dumps({k: v for k, v in summary.items() if k != "bugs"}))
    sys.exit(1 if summary["verdicts"].get("bug") else 0)


if __name__ == "__main__":
    main()
