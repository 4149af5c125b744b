#!/usr/bin/env python3
"""Results runner: variants × seeds of a base config, tables and curves (issue 16).

A plan (TOML, bench/plans/) names one or more base configs, the variants
(lists of `--set key=value` overrides applied on top of a base), the metrics
to tabulate (paths into gantry's eval events in metrics.jsonl) and, where a
paper gives them, the anchor rows to print beside gantry's numbers:

    [[base]]            name = "ring"   config = "configs/pacgan_ring8.toml"
    [variants.gan]      set = []
    [variants.pacgan4]  set = ["model.pack=4", "data.batch=400"]
    [variants.pacgan4_ema]  extends = "pacgan4"  set = ["eval.ema=true"]
                        (the parent's settings, then these: a key set again takes the new value)
    [variants.x_linear] set = ["train.lr_schedule=linear"]  budget = 30000
                        (a variant whose settings are a function of train.steps is tied to its budget: run
                        and tabulated at that budget only; a schedule without a budget is refused)
    [metrics.modes]     path = "modes.captured"   label = "modes"
    [[anchor]]          base = "ring"  variant = "pacgan4"  source = "..."  values = {modes = "7.8 ± 0.1"}
    [[prepare]]         creates = "runs/data/x.h5"  run = "{gantry} pack ..."   (made once if missing)
    [[base]] frozen = true   (a base whose runs are only in the archive: tabulated, never run again)
    wide = ["modes", "hq"]   (optional: also one table per budget with every base side by side, a row per
                        variant, per base n and these metrics (or "window"): PacGAN Table 1's layout; only
                        at budgets where two or more bases have runs)
    [[best]]            label = "..."  ring = { variant = "a", steps = 50000 }  grid = { variant = "b", steps = 100000 }
                        (optional: rows of chosen variants at chosen budgets per base, in one such table
                        with the anchors, titled by the plan's best_title; results.json "best")
    archive = "docs/data/runs/NAME"   (optional: where finished runs' evaluations are kept, see below)
    [window]            label = "at the bar, last 20 %"  share = 0.2
                        all_of = ["modes.captured == modes.total", "modes.high_quality_share >= 0.95"]
                        (optional: a column with, per run, the share (%) of its evaluations in the last
                        `share` of the budget that meet every condition, mean ± SE over seeds: how steady
                        a run is at its budget, which one evaluation at the budget does not show)

For every (seed, variant, base) the runner trains `gantry train --config
<base> --set <base's set> --set <variant> --set <--extra-set> --set
train.seed=<seed> --set train.steps=<budget>` in
<out>/runs/<base>-<variant>-s<seed>, at most --jobs runs at a time (1
thread each), seeds in the outer loop so that an interrupted campaign has
every variant at the same number of seeds. It resumes: a run whose
metrics.jsonl has its evaluation at the budget is skipped, and an
unfinished one continues from its newest checkpoint (gantry train resumes
by itself), so a later, larger --steps extends finished runs too. Before
either, the run's recorded settings (its config.toml, archived beside its
evaluations) are compared with what `gantry config` resolves the command
line to now (bench/run_settings.py): a run trained under other settings is
neither resumed nor counted as done, and the report marks (and --publish
refuses) a row whose seeds were trained with different settings. Runs from
before configs were archived are not checked.

Report (also written after every finished run): for each budget of
--report-steps (default: the campaign budget) and each base, one table of
mean ± standard error over seeds (SE = sd/√n; results.json also has the
95 % confidence half-width t_{0.975, n−1}·SE) of each metric at the last
evaluation at or before that budget, with n; <out>/results.md and
<out>/results.json; and <out>/curves-<base>-<metric>.png: each variant's
mean over seeds per evaluated step, shaded ± SE.

  bench/results.py --plan bench/plans/pacgan2d.toml --steps 20000 --seeds 0-9 --jobs 2
  bench/results.py --plan bench/plans/pacgan2d.toml --report-only --report-steps 10000,20000
  bench/results.py --plan bench/plans/pacgan2d.toml --report-only --report-steps 10000 --publish docs/RESULTS.md
(--publish: the tables replace those between the document's <!-- results:NAME --> markers; the JSON goes
to docs/data/NAME.json and the curves the document links to docs/img/NAME-<base>-<metric>.png.)
Archive: runs/ is scratch that a new machine does not have, so a plan may name an `archive` folder
(tracked in git). After every run the runner writes the run's evaluation events there
(<archive>/<run>.jsonl, one JSON line per evaluated step, and <archive>/<run>.config.toml); the report and
the "finished?" test read the union of the archive and the local run dir (where both have a step, the one
that got further wins: a local dir behind the archive is a leftover), so committed results survive a new
machine and are not trained again. Checkpoints are not archived: a run unfinished on a lost machine starts
over. --import-published FILE puts the per-seed values of an earlier published JSON (docs/data/NAME.json)
into the archive as events at the tabulated budgets, marked "imported" (tables only; no curves).

A full PacGAN protocol run on a faster machine is the same command with
--steps 400000 (the plan's configs already hold the protocol).
"""
import argparse
import fcntl
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import run_settings


def parse_seeds(text):
    seeds = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            seeds += range(int(a), int(b) + 1)
        elif part:
            seeds.append(int(part))
    return seeds


def load_plan(path):
    with open(path, "rb") as f:
        plan = tomllib.load(f)
    for key in ("base", "variants", "metrics"):
        if key not in plan:
            sys.exit(f"results: plan {path} has no [{key}]")
    for name, v in plan["variants"].items():
        if not all(isinstance(s, str) and "=" in s for s in v.get("set", [])):
            sys.exit(f"results: variant {name}: set must be a list of key=value strings")
        unknown = sorted(set(v) - {"set", "extends", "budget"})  # a misspelt `extends` would drop the parent's settings unseen
        if unknown:
            sys.exit(f"results: plan {path}: variant {name} has {', '.join(unknown)}; a variant takes only set, "
                     "extends and budget")
        if "budget" in v and not (type(v["budget"]) is int and v["budget"] >= 1):
            sys.exit(f"results: plan {path}: variant {name}: budget must be a positive integer (steps)")
    resolve_variants(plan, path)
    for where, sets in [(f"variant {n}", v["set"]) for n, v in plan["variants"].items()] + \
            [(f"base {b.get('name')}", b.get("set", [])) for b in plan["base"]]:
        # The runner sets these per run (--seeds, --steps or a variant's budget).
        owned = sorted({kv.split("=", 1)[0] for kv in sets} & {"train.seed", "train.steps"})
        if owned:
            sys.exit(f"results: plan {path}: {where} sets {', '.join(owned)}; seeds come from --seeds and the "
                     "steps from --steps (or a variant's budget)")
    for name, v in plan["variants"].items():
        # A schedule over train.steps makes the run's values at any other step those of another budget's run.
        schedule = dict(kv.split("=", 1) for kv in v["set"]).get("train.lr_schedule", "constant").strip("'\"")
        if schedule != "constant" and "budget" not in v:
            sys.exit(f"results: plan {path}: variant {name} sets train.lr_schedule={schedule}, a function of "
                     "train.steps: give it budget = <steps> (it is run and tabulated at that budget only)")
    if not isinstance(plan.get("wide", []), list) or not isinstance(plan.get("best", []), list):
        sys.exit(f"results: plan {path}: wide must be a list of metric names and best an array ([[best]])")
    for k in plan.get("wide", []):
        if k not in plan["metrics"] and not (k == "window" and "window" in plan):
            sys.exit(f"results: plan {path}: wide names '{k}', which is neither a metric nor a [window]")
    bases = {b["name"] for b in plan["base"]}
    for e in plan.get("best", []):
        chosen = {k: x for k, x in e.items() if k != "label"}
        if not isinstance(e.get("label"), str) or not chosen or any(
                k not in bases or not isinstance(x, dict) or x.get("variant") not in plan["variants"]
                or type(x.get("steps")) is not int or x["steps"] < 1 for k, x in chosen.items()):
            sys.exit(f"results: plan {path}: each [[best]] needs a label and, per base, "
                     "{ variant = <a variant>, steps = <int> }")
        for k, x in chosen.items():
            bound = plan["variants"][x["variant"]].get("budget")
            if bound is not None and bound != x["steps"]:
                sys.exit(f"results: plan {path}: [[best]] {e['label']}: {x['variant']} is tied to budget {bound}, "
                         f"not {x['steps']}")
    if "window" in plan:
        w = plan["window"]
        if not (isinstance(w.get("share"), (int, float)) and 0 < w["share"] <= 1):
            sys.exit(f"results: plan {path}: [window] share must be in (0, 1]")
        if not isinstance(w.get("all_of"), list) or not all(isinstance(c, str) for c in w["all_of"]):
            sys.exit(f"results: plan {path}: [window] all_of must be a list of 'path op path-or-number' strings")
        try:
            w["conditions"] = [parse_condition(c) for c in w["all_of"]]
        except ValueError as e:
            sys.exit(f"results: plan {path}: [window] {e}")
        if not w["conditions"]:
            sys.exit(f"results: plan {path}: [window] needs all_of = [conditions]")
    return plan


def resolve_variants(plan, path):
    """Replaces each variant's `set` with its resolved list. A variant with `extends = "other"` starts from the
    other's resolved settings: a key it sets again takes its value in the parent's place, a new key is added
    after the parent's, so a plan states each variant's difference from its parent once."""
    resolved = {}

    def resolve(name, chain):
        if name not in resolved:
            v = plan["variants"][name]
            settings = {}
            if "extends" in v:
                parent = v["extends"]
                if not isinstance(parent, str) or parent not in plan["variants"]:
                    sys.exit(f"results: plan {path}: variant {name} extends '{parent}', which is not a variant")
                if parent in chain:
                    sys.exit(f"results: plan {path}: variants extend in a cycle: {' -> '.join(chain + [parent])}")
                settings = dict(kv.split("=", 1) for kv in resolve(parent, chain + [parent]))
            for kv in v.get("set", []):
                key, value = kv.split("=", 1)
                settings[key] = value  # gantry's --set: the last value of a key wins
            resolved[name] = [f"{k}={x}" for k, x in settings.items()]
        return resolved[name]

    for name in plan["variants"]:
        resolve(name, [name])
    for name, v in plan["variants"].items():
        v["set"] = resolved[name]


OPS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "==": lambda a, b: a == b,
       ">": lambda a, b: a > b, "<": lambda a, b: a < b}


def parse_condition(text):
    """'PATH OP PATH-or-NUMBER' (OP: >= <= == > <) as (path, op, path or float)."""
    parts = text.split()
    if len(parts) != 3 or parts[1] not in OPS:
        raise ValueError(f"condition '{text}' is not 'path op path-or-number' (op: {' '.join(OPS)})")
    try:
        rhs = float(parts[2])
    except ValueError:
        rhs = parts[2]
    if isinstance(rhs, float) and not math.isfinite(rhs):
        raise ValueError(f"condition '{text}' compares with a non-finite number")
    return parts[0], parts[1], rhs


def meets(event, conditions):
    """Whether an eval event meets every condition (a missing or non-finite value fails it)."""
    for path, op, rhs in conditions:
        a = dig(event, path)
        b = rhs if isinstance(rhs, float) else dig(event, rhs)
        if a is None or b is None or not OPS[op](a, b):
            return False
    return True


def window_label(window):
    return window.get("label", f"evaluations meeting the bar, last {window['share']:.0%} (%)")


def window_share(evals, budget, window):
    """The share of a run's evaluations in (budget·(1 − share), budget] that meet the window's conditions;
    None for a run that has not reached the budget or whose evaluations there were imported (no curve)."""
    if at_budget(evals, budget) is None:
        return None
    # The boundary in exact decimal arithmetic: 45000 · (1 − 0.3) is 31499.999999999996 in floating point.
    cut = budget * (1 - Fraction(str(window["share"])))
    inside = [e for e in evals if cut < e["step"] <= budget]
    if not inside or any("imported" in e for e in inside):
        return None
    # A path that no evaluation has (a typo, a metric this run does not log) gives no share, not 0 %.
    paths = [p for path, _, rhs in window["conditions"] for p in (path, rhs) if isinstance(p, str)]
    if any(all(dig(e, p) is None for e in inside) for p in paths):
        return None
    return sum(meets(e, window["conditions"]) for e in inside) / len(inside)


def run_name(base, variant, seed):
    return f"{base}-{variant}-s{seed}"


def eval_lines(path):
    """The eval events of a JSON-lines file, in file order (missing file: none)."""
    evals = []
    if not path.exists():
        return evals
    for line in path.read_text().splitlines():
        try:
            j = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
        if j.get("event") == "eval" and isinstance(j.get("step"), int):
            evals.append(j)
    return evals


def read_events(run_dir, archive_file=None):
    """(eval events, steps finished) of a run: the union of its archive file and its run dir's metrics.jsonl.
    A run has finished step N when its evaluation at N is logged: gantry evaluates at the last step after
    saving its checkpoint, so that is the last thing a run does."""
    archive = {e["step"]: e for e in eval_lines(archive_file)} if archive_file else {}
    # A resumed run logs the evaluations after its checkpoint again: the last of each step wins.
    local = {e["step"]: e for e in eval_lines(Path(run_dir) / "metrics.jsonl")}
    # Where both have a step, the one that got further wins: a local run dir behind the archive is a leftover
    # (an older machine's copy, or a run started over after its checkpoints were lost), not newer data.
    by_step = {**archive, **local} if max(local, default=0) >= max(archive, default=0) else {**local, **archive}
    evals = [by_step[k] for k in sorted(by_step)]
    return evals, max(by_step, default=0)


def archive_dir(plan):
    return Path(plan["archive"]) if plan.get("archive") else None


def archived(plan, name):
    """A run's archive file, or None when the plan keeps no archive."""
    arch = archive_dir(plan)
    return arch / f"{name}.jsonl" if arch else None


def archived_config(plan, name):
    """The archived copy of a run's config.toml (the settings it was trained with), or None without an archive."""
    arch = archive_dir(plan)
    return arch / f"{name}.config.toml" if arch else None


def last_step(path):
    return max((e["step"] for e in eval_lines(path)), default=0) if path else 0


def recorded_config(plan, out, name):
    """The settings a run recorded (run_settings.flatten form), from the side read_events takes: the run dir's
    config.toml where the run dir got at least as far as the archive, else the archived copy (a run dir behind
    the archive is a leftover); None for a run from before configs were archived."""
    local = out / "runs" / name
    arch = archived_config(plan, name)
    sides = [local / "config.toml", arch]
    if last_step(local / "metrics.jsonl") < last_step(archived(plan, name)):
        sides.reverse()
    for path in sides:
        got = run_settings.recorded(path) if path is not None else None
        if got is not None:
            return got
    return None


def archive_run(plan, out, name):
    """Writes a run's evaluations (archive ∪ run dir) and its config.toml to the plan's archive; returns the
    file or None."""
    arch = archive_dir(plan)
    if arch is None:
        return None
    path = archived(plan, name)
    evals, _ = read_events(out / "runs" / name, path)
    if not evals:
        return None
    write_events(path, evals)
    local = out / "runs" / name
    config = local / "config.toml"
    # The local config only where the local run got at least as far as the archive (read_events' rule), and
    # only a readable one.
    if last_step(local / "metrics.jsonl") >= last_step(path) and run_settings.recorded(config) is not None:
        text = config.read_text()
        target = archived_config(plan, name)
        if not target.exists() or target.read_text() != text:
            write_text_atomic(target, text)
    return path


def write_events(path, evals):
    """Writes eval events as JSON lines, atomically: a kill leaves the old file or the new one."""
    write_text_atomic(path, "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in evals))


def write_text_atomic(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    # A temporary name of its own: two runners (the campaign's lanes) may archive the same run at once.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    # mkstemp makes the file 0600: keep the replaced file's mode, or the usual 0644 for a new one.
    os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
    os.replace(tmp, path)


def nest(path, value):
    """{"a": {"b": value}} for path "a.b" (the inverse of dig)."""
    for k in reversed(path.split(".")):
        value = {k: value}
    return value


def merge(into, extra):
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            merge(into[k], v)
        else:
            into[k] = v
    return into


def import_published(plan, published):
    """Archives the per-seed values of an earlier published results JSON as eval events at its budgets
    (marked "imported"), for runs whose archive has no evaluation at that step. Returns the count."""
    arch = archive_dir(plan)
    if arch is None:
        sys.exit("results: --import-published needs the plan's `archive` folder")
    try:
        pub = json.loads(Path(published).read_text())
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"results: cannot read {published}: {e}")
    events = {}  # run name -> {step: event}
    for budget, bases in pub.get("budgets", {}).items():
        for base, rows in bases.items():
            for row in rows:
                seeds = row.get("seeds", [])
                for k, m in plan["metrics"].items():
                    vals = (row.get(k) or {}).get("values", [])
                    if len(vals) != len(seeds):
                        continue  # a seed lacked this metric: values cannot be matched to seeds
                    for s, x in zip(seeds, vals):
                        ev = events.setdefault(run_name(base, row["variant"], s), {}).setdefault(
                            int(budget), {"event": "eval", "step": int(budget), "imported": str(published)})
                        merge(ev, nest(m["path"], x))
    count = 0
    for name, by_step in sorted(events.items()):
        path = archived(plan, name)
        have = {e["step"]: e for e in eval_lines(path)}
        new = {st: e for st, e in by_step.items() if st not in have}
        if not new:
            continue
        have.update(new)
        count += len(new)
        write_events(path, [have[k] for k in sorted(have)])
    return count


def dig(j, path):
    for k in path.split("."):
        if not isinstance(j, dict) or k not in j:
            return None
        j = j[k]
    return j if isinstance(j, (int, float)) and not isinstance(j, bool) and math.isfinite(j) else None


# Two-sided 95 % Student-t quantiles t_{0.975, df} for df = 1..30 (beyond: 1.96).
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def ci95(se, n):
    """Half-width of the 95 % confidence interval of a mean from n seeds (t distribution)."""
    if se is None or n < 2:
        return None
    return se * (T975[n - 2] if n - 1 <= len(T975) else 1.96)


def mean_se(xs):
    n = len(xs)
    if n == 0:
        return None, None, 0
    m = sum(xs) / n
    if n == 1:
        return m, None, 1
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
    return m, sd / math.sqrt(n), n


def fmt(m, se, scale=1.0, digits=2):
    if m is None:
        return "–"
    if se is None:
        return f"{m * scale:.{digits}f}"
    return f"{m * scale:.{digits}f} ± {se * scale:.{digits}f}"


def collect(plan, out, seeds):
    """{(base, variant): {seed: [eval events]}} of the runs that exist here or in the archive."""
    data = {}
    for b in plan["base"]:
        for v in plan["variants"]:
            for s in seeds:
                name = run_name(b["name"], v, s)
                if b.get("frozen"):  # the archive alone: a local run dir of that name is not one of its runs
                    evals = eval_lines(archived(plan, name)) if archive_dir(plan) else []
                else:
                    evals, _ = read_events(out / "runs" / name, archived(plan, name))
                if evals:
                    data.setdefault((b["name"], v), {})[s] = evals
    return data


def collect_configs(plan, out, data):
    """{(base, variant): {seed: recorded settings or None}} for collect()'s runs."""
    configs = {}
    for (b, v), per_seed in data.items():
        frozen = next(x for x in plan["base"] if x["name"] == b).get("frozen")
        for s in per_seed:
            name = run_name(b, v, s)
            if frozen:
                path = archived_config(plan, name)
                got = run_settings.recorded(path) if path else None
            else:
                got = recorded_config(plan, out, name)
            configs.setdefault((b, v), {})[s] = got
    return configs


def at_budget(evals, budget):
    """The last eval event at or before `budget` steps, or None if the run has not got there."""
    past = [e for e in evals if e["step"] <= budget]
    if not past or max(e["step"] for e in evals) < budget:
        return None
    return max(past, key=lambda e: e["step"])


def report(plan, out, seeds, budgets):
    # One report at a time per campaign folder (the two lanes share one): they rewrite the same files.
    with open(out / ".report.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return locked_report(plan, out, seeds, budgets)


def locked_report(plan, out, seeds, budgets):
    frozen = tuple(f"{b['name']}-" for b in plan["base"] if b.get("frozen"))
    for run_dir in sorted((out / "runs").glob("*/")):
        # A frozen base's archive is final: nothing local is merged into it.
        if (run_dir / "metrics.jsonl").exists() and not (frozen and run_dir.name.startswith(frozen)):
            archive_run(plan, out, run_dir.name)
    data = collect(plan, out, seeds)
    configs = collect_configs(plan, out, data)
    metrics = plan["metrics"]
    result = {"plan": plan.get("name", ""), "budgets": {}}
    md = [f"# {plan.get('title', plan.get('name', 'results'))}", ""]
    if plan.get("description"):
        md += [plan["description"].strip(), ""]
    if plan.get("best"):
        # Each [[best]] row: a chosen variant and budget per base (e.g. each mixture's candidate at its budget).
        entries = [(e["label"], {b: {**summarize(plan, data.get((b, e[b]["variant"]), {}), e[b]["variant"], e[b]["steps"],
                                               configs.get((b, e[b]["variant"]), {})),
                                     "steps": e[b]["steps"]}
                                 for b in (x["name"] for x in plan["base"]) if b in e})
                   for e in plan["best"]]
        result["best"] = [{"label": label, **rows} for label, rows in entries]
        md += wide_table(plan, plan.get("best_title", "the chosen rows against the anchors"), entries)
    for budget in budgets:
        result["budgets"][str(budget)] = {}
        for b in plan["base"]:
            rows, imported = [], 0
            window = plan.get("window")
            header = ["variant", "n"] + [m.get("label", k) for k, m in metrics.items()]
            if window:
                header.append(window_label(window))
            section = [f"## {b['name']} at {budget} steps", "",
                       "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            for v in plan["variants"]:
                row = summarize(plan, data.get((b["name"], v), {}), v, budget, configs.get((b["name"], v), {}))
                cells = [v, str(len(row["seeds"]))]
                cells += [cell(plan, row, k) for k in list(metrics) + (["window"] if window else [])]
                rows.append(row)
                if row["seeds"]:
                    section.append("| " + " | ".join(cells) + " |")
                    imported += len(row["imported"])
            result["budgets"][str(budget)][b["name"]] = rows
            if not any(r["seeds"] for r in rows):
                continue  # no run of this base reached the budget: no table (the JSON keeps the empty rows)
            for a in plan.get("anchor", []):
                if a["base"] != b["name"]:
                    continue
                cells = [f"{a['variant']} ({a['source']})", str(a.get("n", ""))]
                cells += [a["values"].get(k, "–") for k in metrics] + (["–"] if window else [])
                section.append("| " + " | ".join(cells) + " |")
            if imported:
                section += ["", f"({imported} of these runs: values imported from an earlier published JSON, "
                                "so no curves.)"]
            md += section + [""]
        if plan.get("wide"):
            tables = result["budgets"][str(budget)]
            entries = [(v, {b: next(r for r in rows if r["variant"] == v) for b, rows in tables.items()})
                       for v in plan["variants"]]
            # Only where two or more bases have runs: with one it would repeat that base's table.
            md += wide_table(plan, f"all bases at {budget} steps (Table 1's layout)", entries, min_bases=2)
    mixed = {(b, r["variant"], tuple(r["mixed_settings"])) for rows in result["budgets"].values()
             for b, rs in rows.items() for r in rs if r.get("mixed_settings")}
    mixed |= {(b, r["variant"], tuple(r["mixed_settings"])) for e in result.get("best", [])
              for b, r in e.items() if isinstance(r, dict) and r.get("mixed_settings")}
    mixed = sorted(mixed)
    result["mixed_settings"] = [{"base": b, "variant": v, "keys": list(k)} for b, v, k in mixed]
    for b, v, keys in mixed:
        print(f"results: warning: {b} {v}: its seeds were trained with different settings ({', '.join(keys)})",
              file=sys.stderr)
    (out / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "results.md").write_text("\n".join(md) + "\n")
    plot_curves(plan, out, data)
    return "\n".join(md)


def summarize(plan, per_seed, variant, budget, configs=None):
    """One table row: mean ± SE over seeds of each metric (and the [window] share) at the last evaluation at or
    before `budget` of every run ({seed: eval events}) that reached it. A variant tied to its budget (a schedule
    over train.steps) has a row at that budget only. `configs` ({seed: recorded settings}) marks a row whose
    seeds were trained with different settings (mixed_settings: the keys that differ)."""
    bound = plan["variants"].get(variant, {}).get("budget")
    if bound is not None:  # and only runs that stopped there: one evaluated past it ran with another train.steps
        per_seed = {s: ev for s, ev in per_seed.items() if max(e["step"] for e in ev) == bound}
    finals = {s: at_budget(ev, budget) for s, ev in per_seed.items()} if bound in (None, budget) else {}
    finals = {s: e for s, e in finals.items() if e is not None}
    row = {"variant": variant, "seeds": sorted(finals)}
    known = [(s, c) for s, c in sorted((configs or {}).items()) if s in finals and c is not None]
    ignore = {"train.seed"} | (set() if bound else {"train.steps"})
    keys = {k for _, c in known[1:] for k, _, _ in run_settings.differences(known[0][1], c, ignore)}
    if keys:
        row["mixed_settings"] = sorted(keys)
    for k, m in plan["metrics"].items():
        xs = [x for x in (dig(e, m["path"]) for e in finals.values()) if x is not None]
        mu, se, n = mean_se(xs)
        row[k] = {"mean": mu, "se": se, "ci95": ci95(se, n), "n": n, "values": xs}
    if plan.get("window"):
        xs = [x for x in (window_share(per_seed[sd], budget, plan["window"]) for sd in finals) if x is not None]
        mu, se, n = mean_se(xs)
        row["window"] = {"mean": mu, "se": se, "ci95": ci95(se, n), "n": n, "values": xs}
    row["imported"] = sorted(s for s, e in finals.items() if "imported" in e)
    return row


def cell(plan, row, key):
    """A summarize() row's mean ± SE of a metric, or of "window" (a share, shown in whole %), as tabulated."""
    m = {"scale": 100.0, "digits": 0} if key == "window" else plan["metrics"][key]
    text = fmt(row[key]["mean"], row[key]["se"], m.get("scale", 1.0), m.get("digits", 2))
    # A metric some of the row's runs do not have (a KL with no mode captured): its own n, not the row's.
    if 0 < row[key]["n"] < len(row["seeds"]):
        text += f" (n {row[key]['n']})"
    return text


def wide_table(plan, title, entries, min_bases=1):
    """Markdown lines of one table with every base side by side, laid out like PacGAN's Table 1: a row per
    entry (label, {base: summarize() row}), per base a group of columns (n, then the plan's `wide` metrics),
    then the anchors; only bases where some entry has a run, and nothing if fewer than min_bases have one."""
    metrics = plan["metrics"]
    keys = plan.get("wide") or list(metrics)
    bases = [b["name"] for b in plan["base"] if any(rows.get(b["name"], {}).get("seeds") for _, rows in entries)]
    if len(bases) < max(1, min_bases):
        return []

    def label(k):
        if k == "window":
            return window_label(plan["window"])
        return metrics[k].get("label", k)

    header = ["variant"]
    for b in bases:
        header += [f"{b}: n"] + [f"{b}: {label(k)}" for k in keys]
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for entry_label, rows in entries:
        if not any(rows.get(b, {}).get("seeds") for b in bases):
            continue
        cells = [entry_label]
        for b in bases:
            row = rows.get(b)
            if not row or not row["seeds"]:
                cells += ["–"] * (1 + len(keys))
                continue
            n = str(len(row["seeds"])) + (f" @ {row['steps']:,}" if "steps" in row else "")
            cells.append(n)
            cells += [cell(plan, row, k) for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    anchors = {}
    for a in plan.get("anchor", []):
        if a["base"] in bases:
            anchors.setdefault((a["variant"], a["source"]), {})[a["base"]] = a
    for (variant, source), per_base in anchors.items():
        cells = [f"{variant} ({source})"]
        for b in bases:
            a = per_base.get(b)
            cells.append(str(a.get("n", "")) if a else "–")
            cells += [a["values"].get(k, "–") if a else "–" for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def publish(plan, out, doc, md):
    """Puts a campaign's report (md, report()'s text) into the docs: its tables (the '## ' headings one level
    down) replace the lines between the markers in doc; the JSON goes to docs/data/NAME.json and the curves
    that doc links (img/NAME-<base>-<metric>.png) to docs/img/."""
    name = plan.get("name", "results")
    begin, end = f"<!-- results:{name} -->", f"<!-- /results:{name} -->"
    lines = doc.read_text().split("\n")
    if begin not in lines or end not in lines or lines.index(begin) > lines.index(end):
        sys.exit(f"results: {doc} has no '{begin}' ... '{end}' block to publish into")
    md = md.split("\n")
    first = next((i for i, l in enumerate(md) if l.startswith("## ")), len(md))
    tables = ["#" + l if l.startswith("## ") else l for l in md[first:]]
    while tables and not tables[-1]:
        tables.pop()
    mixed = json.loads((out / "results.json").read_text()).get("mixed_settings", [])
    if mixed:
        m = mixed[0]
        sys.exit(f"results: not publishing: {len(mixed)} row(s) mix runs trained with different settings, e.g. "
                 f"{m['base']} {m['variant']} ({', '.join(m['keys'])})")
    i, j = lines.index(begin), lines.index(end)
    text = "\n".join(lines[:i + 1] + [""] + tables + [""] + lines[j:])
    write_text_atomic(doc, text)
    docs = doc.parent
    (docs / "data").mkdir(exist_ok=True)
    (docs / "img").mkdir(exist_ok=True)
    shutil.copyfile(out / "results.json", docs / "data" / f"{name}.json")
    linked = 0
    for png in sorted(out.glob("curves-*.png")):
        target = f"img/{name}-{png.name[len('curves-'):]}"
        if target in text:  # a curve the document does not show would only be a stale file in git
            shutil.copyfile(png, docs / target)
            linked += 1
    print(f"results: published {name} into {doc} ({linked} linked curves)", file=sys.stderr)


def plot_curves(plan, out, data):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("results: matplotlib not found: no curves (scripts/setup.sh installs it)", file=sys.stderr)
        return
    for b in plan["base"]:
        for k, m in plan["metrics"].items():
            fig, ax = plt.subplots(figsize=(6.4, 4.0))
            drew = False
            for v in plan["variants"]:
                # Imported values are single points at the budgets, not curves.
                per_seed = {s: [e for e in ev if "imported" not in e] for s, ev in data.get((b["name"], v), {}).items()}
                per_seed = {s: ev for s, ev in per_seed.items() if ev}
                steps = sorted({e["step"] for ev in per_seed.values() for e in ev})
                xs, mus, ses = [], [], []
                for st in steps:
                    vals = [dig(e, m["path"]) for ev in per_seed.values() for e in ev if e["step"] == st]
                    mu, se, n = mean_se([x for x in vals if x is not None])
                    if mu is None:
                        continue
                    xs.append(st)
                    mus.append(mu * m.get("scale", 1.0))
                    ses.append((se or 0.0) * m.get("scale", 1.0))
                if not xs:
                    continue
                line, = ax.plot(xs, mus, marker="o", markersize=3, label=f"{v} (n≤{len(per_seed)})")
                ax.fill_between(xs, [a - e for a, e in zip(mus, ses)], [a + e for a, e in zip(mus, ses)],
                                color=line.get_color(), alpha=0.2)
                drew = True
            if not drew:
                plt.close(fig)
                continue
            ax.set_xlabel("step")
            ax.set_ylabel(m.get("label", k))
            ax.set_title(f"{b['name']}: {m.get('label', k)} (mean ± SE over seeds)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(out / f"curves-{b['name']}-{k}.png", dpi=110)
            plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--out", help="default: runs/results/<plan name>")
    ap.add_argument("--steps", type=int, help="budget of every run (default: the base config's train.steps)")
    ap.add_argument("--seeds", default="0-9")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", help="comma list of variants to run (the report shows all)")
    ap.add_argument("--bases", help="comma list of bases to run")
    ap.add_argument("--gantry", default="build/gantry")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--report-steps", help="comma list of budgets to tabulate (default: --steps)")
    ap.add_argument("--extra-set", action="append", default=[], help="key=value added to every run")
    ap.add_argument("--import-published", metavar="JSON",
                    help="put an earlier published results JSON's per-seed values into the plan's archive, then stop")
    ap.add_argument("--publish", metavar="DOC",
                    help="with --report-only: the tables into DOC between its <!-- results:NAME --> and "
                         "<!-- /results:NAME --> lines, results.json to docs/data/NAME.json, the curves DOC links to "
                         "docs/img/NAME-<base>-<metric>.png (NAME: the plan's name)")
    args = ap.parse_args()

    plan = load_plan(args.plan)
    out = Path(args.out or f"runs/results/{plan.get('name', Path(args.plan).stem)}")
    (out / "runs").mkdir(parents=True, exist_ok=True)
    seeds = parse_seeds(args.seeds)
    budget = args.steps
    if budget is None:
        with open(plan["base"][0]["config"], "rb") as f:
            budget = tomllib.load(f).get("train", {}).get("steps", 1000)
    budgets = [int(x) for x in args.report_steps.split(",")] if args.report_steps else [budget]
    if args.import_published:
        n = import_published(plan, args.import_published)
        print(f"results: imported {n} evaluations from {args.import_published} into {archive_dir(plan)}", file=sys.stderr)
        return
    if args.report_only:
        md = report(plan, out, seeds, budgets)
        print(md)
        if args.publish:
            publish(plan, out, Path(args.publish), md)
        return
    if not os.access(args.gantry, os.X_OK):
        sys.exit(f"results: {args.gantry} is not an executable gantry")

    for p in plan.get("prepare", []):  # inputs the runs need, made once
        if not Path(p["creates"]).exists():
            print(f"results: making {p['creates']}", flush=True)
            Path(p["creates"]).parent.mkdir(parents=True, exist_ok=True)
            if subprocess.call(p["run"].format(gantry=args.gantry), shell=True) != 0 or not Path(p["creates"]).exists():
                sys.exit(f"results: preparing {p['creates']} failed")
    if not run_settings.has_config_command(args.gantry):
        sys.exit(f"results: {args.gantry} has no `gantry config` (built before it): the runs' settings cannot be "
                 "checked; use a newer build")
    only = set(args.only.split(",")) if args.only else set(plan["variants"])
    bases = set(args.bases.split(",")) if args.bases else {b["name"] for b in plan["base"]}
    unknown = (only - set(plan["variants"])) | (bases - {b["name"] for b in plan["base"]})
    if unknown:
        sys.exit(f"results: unknown variants or bases: {', '.join(sorted(unknown))}")
    frozen = sorted(b["name"] for b in plan["base"] if b.get("frozen") and b["name"] in bases)
    if frozen:
        print(f"results: frozen bases (archive only, not run): {', '.join(frozen)}", flush=True)
    jobs = [(s, v, b) for s in seeds for v in plan["variants"] if v in only
            for b in plan["base"] if b["name"] in bases and not b.get("frozen")]
    env = dict(os.environ, GANTRY_DEVICE=os.environ.get("GANTRY_DEVICE", "cpu"), GANTRY_THREADS="1",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    lock = threading.Lock()
    log = open(out / "campaign.log", "a")

    def one(job):
        s, v, b = job
        name = run_name(b["name"], v, s)
        run_dir = out / "runs" / name
        bound = plan["variants"][v].get("budget")
        if bound is not None and bound != budget:
            return name, f"tied to its budget {bound} (train.lr_schedule): not run at {budget}"
        # The base's settings, the variant's over them, then the runner's own: the seed and budget last.
        sets = b.get("set", []) + plan["variants"][v].get("set", []) + args.extra_set + \
            [f"train.seed={s}", f"train.steps={budget}"]
        try:
            expected = run_settings.resolved(args.gantry, b["config"], sets)
        except run_settings.SettingsError as e:
            return name, f"not run: {e}"
        schedule = expected.get("train.lr_schedule", "constant")
        if schedule != "constant" and bound is None:  # set by the base or --extra-set, where load_plan cannot see it
            return name, (f"not run: train.lr_schedule = {schedule} is a function of train.steps; give variant {v} "
                          "budget = <steps>")
        explicit = run_settings.explicit_keys(b["config"], sets)

        def verdict():
            """Why the run is not trained now (settings changed, finished), or None."""
            got = recorded_config(plan, out, name)
            diffs = run_settings.differences(expected, got, () if bound else ("train.steps",), explicit) if got else []
            if diffs:
                return (f"not run: trained before with other settings ({run_settings.describe(diffs)}); "
                        f"move {run_dir} and its archive files away to train it anew")
            if read_events(run_dir, archived(plan, name))[1] >= budget:
                return "done before"
            return None

        if (why := verdict()) is not None:
            return name, why
        # One trainer per run dir, also across runners started side by side: an exclusive lock held while it trains.
        lock_file = open(out / "runs" / f"{name}.lock", "w")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            return name, "being trained by another runner: skipped"
        if (why := verdict()) is not None:  # another runner trained it between the check and the lock
            lock_file.close()
            return name, why
        cmd = [args.gantry, "train", "--config", b["config"], "--run-dir", str(run_dir), "--quiet"]
        for kv in sets:
            cmd += ["--set", kv]
        t0 = time.time()
        with open(out / "runs" / f"{name}.log", "a") as f:
            # The trainer inherits the locked descriptor: the lock lives as long as it does, runner killed or not.
            rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, pass_fds=(lock_file.fileno(),))
        lock_file.close()
        status = f"rc {rc} in {time.time() - t0:.0f} s"
        with lock:
            log.write(f"{time.strftime('%F %T')} {name} {status}\n")
            log.flush()
            report(plan, out, seeds, budgets)
        return name, status

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for name, status in pool.map(one, jobs):
            print(f"{name}: {status}", flush=True)
    print(report(plan, out, seeds, budgets))


if __name__ == "__main__":
    main()
