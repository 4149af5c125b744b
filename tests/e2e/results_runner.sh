#!/usr/bin/env bash
# bench/results.py, the results runner, on PacGAN's ring (configs/pacgan_ring8.toml) at a few steps: a small
# plan runs with bounded parallelism, resumes and extends; its tables are numpy's means ± standard errors
# over the runs' own metrics (plus curves); the archive alone reproduces them on a "new machine"; --publish
# and --import-published. And the checks that keep a table honest: `gantry config` prints what a run trains
# with (its config.toml, byte for byte), a run trained under other settings is neither resumed nor counted,
# a row mixing settings is marked and not published, a variant with a schedule over train.steps is run and
# tabulated at its own budget only, and a metric's own n shows where runs lack it.
source "$(dirname "$0")/lib.sh"
PY=${2:?usage: $0 gantry python}
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$WORK"

# The results runner: 2 variants × 2 seeds, 2 jobs at a time, then a rerun that finds everything done.
cat >plan.toml <<TOML
name = "tiny"
archive = "arch"
wide = ["hq", "window"]
best_title = "picked"
[[best]]
label = "pack2 at 4"
ring = { variant = "pack2", steps = 4 }
[[base]]
name = "ring"
config = "$repo/configs/pacgan_ring8.toml"
set = ["data.batch=20", "data.mixture_pool=100", "eval.every=4", "eval.count=300", "train.checkpoint_every=4",
       "log.sample_every=100", "train.ema_beta=0.3"]
[[base]]
name = "old"
frozen = true
config = "$repo/configs/pacgan_ring8.toml"
[variants.gan]
set = ["train.ema_beta=0.5"]
[variants.pack2]
extends = "gan"
set = ["model.pack=2"]
[metrics.modes]
path = "modes.captured"
[metrics.hq]
path = "modes.high_quality_share"
scale = 100.0
[metrics.at]
path = "step"
[window]
label = "steady"
share = 0.5
all_of = ["step >= 6", "modes.captured <= modes.total"]
[[anchor]]
base = "ring"
variant = "PacGAN2"
source = "a paper"
values = { modes = "7.9" }
TOML
"$PY" "$repo/bench/results.py" --plan plan.toml --out res --steps 8 --seeds 0-1 --jobs 2 --gantry "$GANTRY" \
  >res.log 2>&1 || fail "results runner: $(tail -5 res.log)"
# `gantry config` prints what train runs with: the run's config.toml byte for byte, for the runner's command
# line (the base's settings, the variant's over them — ema_beta 0.5, not the base's 0.3 — then seed and steps).
"$GANTRY" config --config "$repo/configs/pacgan_ring8.toml" --set data.batch=20 --set data.mixture_pool=100 \
  --set eval.every=4 --set eval.count=300 --set train.checkpoint_every=4 --set log.sample_every=100 \
  --set train.ema_beta=0.3 --set train.ema_beta=0.5 --set train.seed=1 --set train.steps=8 >expected.toml 2>config.err ||
  fail "gantry config: $(cat config.err)"
cmp -s expected.toml res/runs/ring-gan-s1/config.toml ||
  fail "gantry config differs from the run's config.toml: $(diff expected.toml res/runs/ring-gan-s1/config.toml | head)"
cmp -s res/runs/ring-gan-s1/config.toml arch/ring-gan-s1.config.toml || fail "the run's config.toml is not archived"
"$GANTRY" config --config "$repo/configs/pacgan_ring8.toml" --set model.pack=0 >bad.out 2>bad.err
rc=$?
[[ $rc == 2 && ! -s bad.out && $(wc -l <bad.err) == 1 ]] && grep -q "model.pack = 0 is outside" bad.err ||
  fail "gantry config with a bad --set: rc $rc, $(cat bad.err)"
"$GANTRY" config --config "$repo/configs/pacgan_ring8.toml" --set model.pack=3 --world-size 2 >/dev/null 2>bad.err &&
  fail "gantry config --world-size 2 accepted a pack that does not divide the per-rank batch"
grep -q "per rank (50, 50)" bad.err || fail "gantry config --world-size: $(cat bad.err)"
# The frozen base gets archived runs (copies of ring's) and is tabulated from them; a second base with runs
# brings the per-budget table of all bases side by side.
for f in arch/ring-*-s0.jsonl; do cp "$f" "arch/old-${f#arch/ring-}"; done  # seed 0 only: n differs
"$PY" "$repo/bench/results.py" --plan plan.toml --out res --seeds 0-1 --report-only --report-steps 8 >/dev/null 2>&1 ||
  fail "report with the frozen base's archive"
"$PY" - res <<'PY' || fail "results table"
import json, math, sys
from pathlib import Path
import numpy as np
out = Path(sys.argv[1])
table = json.loads((out / "results.json").read_text())["budgets"]["8"]["ring"]
assert [r["variant"] for r in table] == ["gan", "pack2"], table
for row in table:
    finals = []
    for s in (0, 1):
        evals = [json.loads(l) for l in open(out / "runs" / f"ring-{row['variant']}-s{s}" / "metrics.jsonl")
                 if '"event":"eval"' in l]
        assert [e["step"] for e in evals] == [4, 8], evals
        finals.append(evals[-1]["modes"])
    assert row["seeds"] == [0, 1], row
    for key, path in (("modes", "captured"), ("hq", "high_quality_share")):
        xs = np.array([f[path] for f in finals], float)
        assert np.allclose(row[key]["values"], xs), (row, xs)
        assert abs(row[key]["mean"] - xs.mean()) < 1e-12
        assert abs(row[key]["se"] - xs.std(ddof=1) / math.sqrt(2)) < 1e-12
        assert abs(row[key]["ci95"] - 12.706 * row[key]["se"]) < 1e-9  # t_{0.975, 1}
    # [window] share 0.5: per run, the share of its evaluations in (4, 8] (step 8 only: the lower bound is
    # exclusive, so step 4's failing "step >= 6" does not count) meeting both conditions (8 steps capture no
    # mode yet, so the conditions are on the step and a path-to-path bound).
    shares = []
    for s in (0, 1):
        evals = [json.loads(l) for l in open(out / "runs" / f"ring-{row['variant']}-s{s}" / "metrics.jsonl")
                 if '"event":"eval"' in l]
        inside = [e for e in evals if 4 < e["step"] <= 8]
        assert [e["step"] for e in evals] == [4, 8] and len(inside) == 1, evals
        shares.append(np.mean([e["step"] >= 6 and e["modes"]["captured"] <= e["modes"]["total"] for e in inside]))
    assert np.allclose(row["window"]["values"], shares), (row["window"], shares)
    assert abs(row["window"]["mean"] - np.mean(shares)) < 1e-12
md = (out / "results.md").read_text()
assert "## ring at 8 steps" in md and "| pack2 | 2 |" in md and "PacGAN2 (a paper)" in md, md
narrow = md[md.index("## ring at 8 steps"):md.index("## all bases at 8 steps")]
assert "| steady |" in narrow and all(l.count("|") == 7 for l in narrow.splitlines() if l.startswith("| ")), md
# wide: one group of columns per base that has runs (the frozen base has none): n, hq, the window share.
wide = md[md.index("## all bases at 8 steps (Table 1's layout)"):]
assert "| variant | ring: n | ring: hq | ring: steady | old: n | old: hq | old: steady |" in wide, wide
old_table = json.loads((out / "results.json").read_text())["budgets"]["8"]["old"]


def group(row):  # a base's cells: n, then each metric as the report formats it (no ± for one seed)
    cells = [str(len(row["seeds"]))]
    for key, scale, digits in (("hq", 100, 2), ("window", 100, 0)):
        m, se = row[key]["mean"], row[key]["se"]
        cells.append(f"{m * scale:.{digits}f}" + (f" ± {se * scale:.{digits}f}" if se is not None else ""))
    return " | ".join(cells)


for row, old in zip(table, old_table):
    assert old["seeds"] == [0] and row["seeds"] == [0, 1], (old, row)
    assert f"| {row['variant']} | {group(row)} | {group(old)} |" in wide, wide
# [[best]]: pack2 at step 4 (the first evaluation), first in the report, also in the JSON.
assert md.index("## picked") < md.index("## ring at 8 steps"), md
best = json.loads((out / "results.json").read_text())["best"]
assert best[0]["label"] == "pack2 at 4" and best[0]["ring"]["steps"] == 4 and best[0]["ring"]["seeds"] == [0, 1], best
at4 = [[e["modes"]["high_quality_share"] for e in map(json.loads, open(out / "runs" / f"ring-pack2-s{s}" / "metrics.jsonl"))
        if e.get("event") == "eval" and e["step"] == 4][-1] for s in (0, 1)]
assert np.allclose(best[0]["ring"]["hq"]["values"], at4), (best, at4)
assert best[0]["ring"]["at"]["values"] == [4, 4], best  # the evaluation at the row's own budget
assert "| pack2 at 4 | 2 @ 4 |" in md, md
assert (out / "curves-ring-modes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
PY
rm arch/old-*.jsonl  # the frozen base's copies served the tables above
# A frozen base is tabulated from the archive but never run.
grep -q "frozen bases (archive only, not run): old" res.log || fail "frozen base not announced: $(head -3 res.log)"
compgen -G "res/runs/old-*" >/dev/null && fail "a frozen base was run: $(ls res/runs)"
# A [window] that cannot be evaluated is refused before anything runs, in one line.
sed 's/^all_of = .*/all_of = ["modes.captured ~ 2"]/' plan.toml >badplan.toml
"$PY" "$repo/bench/results.py" --plan badplan.toml --out res --report-only >bad.log 2>&1 && fail "a bad [window] was accepted"
[[ $(wc -l <bad.log) == 1 ]] && grep -q "condition 'modes.captured ~ 2'" bad.log || fail "bad [window]: $(cat bad.log)"
# A variant that extends another trains with the other's settings under its own (pack2 extends gan).
grep -q "^ema_beta = 0.5$" res/runs/ring-pack2-s0/config.toml && grep -q "^pack = 2$" res/runs/ring-pack2-s0/config.toml ||
  fail "pack2 did not get gan's settings: $(grep -E '^(ema_beta|pack) ' res/runs/ring-pack2-s0/config.toml)"
# Resolution: the parent's settings in order, a key set again takes its place, new keys after; chains resolve.
cat >ext.toml <<TOML
[[base]]
name = "ring"
config = "$repo/configs/pacgan_ring8.toml"
[variants.c]
extends = "b"
set = ["model.pack=3"]
[variants.a]
set = ["model.pack=2", "data.batch=20"]
[variants.b]
extends = "a"
set = ["data.batch=40", "eval.ema=true"]
[metrics.modes]
path = "modes.captured"
TOML
"$PY" - "$repo/bench" <<'PY' || fail "variant resolution"
import glob
import sys
sys.path.insert(0, sys.argv[1])
import results
v = results.load_plan("ext.toml")["variants"]
assert v["a"]["set"] == ["model.pack=2", "data.batch=20"], v["a"]
assert v["b"]["set"] == ["model.pack=2", "data.batch=40", "eval.ema=true"], v["b"]
assert v["c"]["set"] == ["model.pack=3", "data.batch=40", "eval.ema=true"], v["c"]
plans = glob.glob(sys.argv[1] + "/plans/*.toml")
assert plans and all(results.load_plan(p)["variants"] for p in plans)  # the campaign's plans resolve
PY
# A parent that is not a variant, a misspelt extends and a cycle are refused in one line each.
sed 's/^extends = "a"$/extends = "z"/' ext.toml >ext_bad.toml
"$PY" "$repo/bench/results.py" --plan ext_bad.toml --out ext --report-only >bad.log 2>&1 && fail "extends an unknown variant"
[[ $(wc -l <bad.log) == 1 ]] && grep -q "variant b extends 'z', which is not a variant" bad.log || fail "unknown parent: $(cat bad.log)"
sed 's/^extends = "a"$/extend = "a"/' ext.toml >ext_typo.toml
"$PY" "$repo/bench/results.py" --plan ext_typo.toml --out ext --report-only >bad.log 2>&1 && fail "a misspelt extends"
[[ $(wc -l <bad.log) == 1 ]] && grep -q "variant b has extend; a variant takes only set, extends and budget" bad.log ||
  fail "misspelt extends: $(cat bad.log)"
sed 's/^set = \["model.pack=2", "data.batch=20"\]$/extends = "c"/' ext.toml >ext_cycle.toml
"$PY" "$repo/bench/results.py" --plan ext_cycle.toml --out ext --report-only >bad.log 2>&1 && fail "a cycle of extends"
[[ $(wc -l <bad.log) == 1 ]] && grep -q "extend in a cycle: c -> b -> a -> c" bad.log || fail "cycle: $(cat bad.log)"
# A condition on a path no evaluation has (a typo) gives no share ("–"), not 0 %.
sed 's/modes.captured <= modes.total/modes.captured <= modes.totl/' plan.toml >typo.toml
"$PY" "$repo/bench/results.py" --plan typo.toml --out typo --seeds 0-1 --report-only --report-steps 8 >typo.log 2>&1 &&
  grep -q "^| gan | 2 | .* | – |$" typo/results.md || fail "a mistyped [window] path: $(grep '^| gan' typo/results.md)"
# Resume: the four runs are found finished; nothing is trained again.
"$PY" "$repo/bench/results.py" --plan plan.toml --out res --steps 8 --seeds 0-1 --jobs 2 --gantry "$GANTRY" \
  >res2.log 2>&1 || fail "results rerun: $(tail -5 res2.log)"
[[ $(grep -c "done before" res2.log) == 4 ]] || fail "rerun trained again: $(cat res2.log)"
# The plan's settings changed since (gan's ema_beta, and so pack2's, which extends it): the finished runs are
# not counted as the new settings' results, nor resumed with them; nothing is trained or rewritten.
sed 's/^set = \["train.ema_beta=0.5"\]$/set = ["train.ema_beta=0.6"]/' plan.toml >changed.toml
cmp -s plan.toml changed.toml && fail "changed.toml: the sed did not apply"
sums=$(cat res/runs/*/metrics.jsonl arch/* | md5sum)
"$PY" "$repo/bench/results.py" --plan changed.toml --out res --steps 12 --seeds 0-1 --jobs 2 --gantry "$GANTRY" \
  >changed.log 2>&1 || fail "results with changed settings: $(tail -5 changed.log)"
[[ $(grep -c "not run: trained before with other settings (train.ema_beta 0.5 -> 0.6)" changed.log) == 4 ]] ||
  fail "changed settings not refused: $(cat changed.log)"
[[ $(cat res/runs/*/metrics.jsonl arch/* | md5sum) == "$sums" ]] || fail "a run with other settings was trained"
# A key the recorded config lacks (a gantry from before the option) counts where the plan sets it (gan's
# ema_beta), not where it is at its default (hflip); the archived copy is not read while the run dir's is.
cp res/runs/ring-gan-s1/config.toml s1.run.toml
sed -i '/^hflip = false$/d' res/runs/ring-gan-s1/config.toml
"$PY" "$repo/bench/results.py" --plan plan.toml --out res --steps 8 --seeds 1 --only gan --gantry "$GANTRY" \
  >absent.log 2>&1 && grep -q "ring-gan-s1: done before" absent.log || fail "a key at its default, absent: $(cat absent.log)"
sed -i '/^ema_beta = 0.5$/d' res/runs/ring-gan-s1/config.toml
"$PY" "$repo/bench/results.py" --plan plan.toml --out res --steps 8 --seeds 1 --only gan --gantry "$GANTRY" \
  >absent.log 2>&1 && grep -q "ring-gan-s1: not run: trained before with other settings (train.ema_beta '(absent)' -> 0.5)" \
  absent.log || fail "a key the plan sets, absent: $(cat absent.log)"
cp s1.run.toml res/runs/ring-gan-s1/config.toml
# A gantry without the `config` subcommand (built before it) cannot check settings: one line, nothing runs.
printf '#!/bin/sh\necho "gantry: unknown subcommand" >&2\nexit 2\n' >old_gantry && chmod +x old_gantry
"$PY" "$repo/bench/results.py" --plan plan.toml --out res --steps 8 --seeds 0-1 --gantry ./old_gantry >old.log 2>&1 &&
  fail "a gantry without config was accepted"
[[ $(wc -l <old.log) == 1 ]] && grep -q "has no \`gantry config\`" old.log || fail "gantry without config: $(cat old.log)"
# A larger budget extends the finished runs from their checkpoints.
"$PY" "$repo/bench/results.py" --plan plan.toml --out res --steps 12 --seeds 0 --only gan --jobs 1 \
  --gantry "$GANTRY" >res3.log 2>&1 || fail "results extension: $(tail -5 res3.log)"
grep -q '"step":12' res/runs/ring-gan-s0/metrics.jsonl || fail "run not extended to 12 steps"
[[ $(grep '"event":"eval"' res/runs/ring-gan-s0/metrics.jsonl | grep -c '"step":4[,}]') == 1 ]] ||
  fail "the extension started over instead of resuming"
# --publish puts the tables into a document between its markers (twice gives the same text), copies the
# JSON and the curves beside it, and refuses a document without the markers.
plan_name=tiny  # plan.toml's name
mkdir -p pub/docs
printf 'intro\n<!-- results:%s -->\nold table\n<!-- /results:%s -->\n![](img/%s-ring-modes.png)\n' \
  "$plan_name" "$plan_name" "$plan_name" >pub/docs/R.md
for _ in 1 2; do
  "$PY" "$repo/bench/results.py" --plan plan.toml --out res --seeds 0-1 --report-only --report-steps 8 \
    --publish pub/docs/R.md >/dev/null 2>&1 || fail "publish"
done
"$PY" - pub/docs/R.md res/results.md <<'PY' || fail "published document"
import sys
doc, md = open(sys.argv[1]).read(), open(sys.argv[2]).read()
assert doc.startswith("intro\n<!-- results:tiny -->\n"), doc
assert doc.endswith("\n<!-- /results:tiny -->\n![](img/tiny-ring-modes.png)\n"), doc
assert "old table" not in doc and "### ring at 8 steps" in doc and "\n## " not in doc, doc
ring = md.index("## ring at 8 steps")
table = md[md.index("| variant", ring):md.index("\n\n", md.index("| variant", ring))]
assert table in doc and table.count("\n") >= 3, (table, doc)
PY
cmp -s res/results.json "pub/docs/data/$plan_name.json" || fail "published JSON differs"
[[ -s pub/docs/img/$plan_name-ring-modes.png ]] || fail "linked curve not published"
[[ -s res/curves-ring-hq.png && ! -e pub/docs/img/$plan_name-ring-hq.png ]] || fail "unlinked curve published"
echo "no markers" >pub/docs/bad.md
if "$PY" "$repo/bench/results.py" --plan plan.toml --out res --seeds 0-1 --report-only --report-steps 8 \
  --publish pub/docs/bad.md >bad.log 2>&1; then fail "publish into a document without markers succeeded"; fi
grep -q "no '<!-- results:" bad.log || fail "publish error line: $(cat bad.log)"
# The archive: every run's evaluations are kept in the plan's archive folder, so a new machine (no res/runs)
# finds all four runs finished, trains nothing and tabulates the same values.
[[ $(ls arch/*.jsonl | wc -l) == 4 ]] || fail "archive files: $(ls arch)"
[[ $(grep -c '"event":"eval"' arch/ring-gan-s0.jsonl) == 3 ]] || fail "archive of the extended run: $(cat arch/ring-gan-s0.jsonl)"
mv res res-old
"$PY" "$repo/bench/results.py" --plan plan.toml --out res --steps 8 --seeds 0-1 --jobs 2 --gantry "$GANTRY" \
  >res4.log 2>&1 || fail "results on a new machine: $(tail -5 res4.log)"
[[ $(grep -c "done before" res4.log) == 4 ]] || fail "new machine trained again: $(cat res4.log)"
cmp -s res/results.json res-old/results.json || fail "tables from the archive differ"
# One seed's archived settings differ from the other's: the report says so and --publish refuses the tables.
cp arch/ring-gan-s1.config.toml s1.config.toml
sed -i 's/^ema_beta = 0.5$/ema_beta = 0.7/' arch/ring-gan-s1.config.toml
"$PY" "$repo/bench/results.py" --plan plan.toml --out res --seeds 0-1 --report-only --report-steps 8 \
  >/dev/null 2>mixed.log || fail "report of mixed settings: $(cat mixed.log)"
grep -q "warning: ring gan: its seeds were trained with different settings (train.ema_beta)" mixed.log ||
  fail "mixed settings not reported: $(cat mixed.log)"
grep -q "ring pack2" mixed.log && fail "pack2's seeds share their settings: $(cat mixed.log)"
cp pub/docs/R.md R.before
"$PY" "$repo/bench/results.py" --plan plan.toml --out res --seeds 0-1 --report-only --report-steps 8 \
  --publish pub/docs/R.md >/dev/null 2>mixed.log && fail "published a row of mixed settings"
grep -q "not publishing: 1 row(s) mix runs trained with different settings, e.g. ring gan (train.ema_beta)" mixed.log &&
  cmp -s R.before pub/docs/R.md || fail "publish with mixed settings: $(tail -1 mixed.log)"
cp s1.config.toml arch/ring-gan-s1.config.toml
# The same for a [[best]] row alone (pack2 at 4; no table at 12 has pack2's seeds).
cp arch/ring-pack2-s1.config.toml p1.config.toml
sed -i 's/^ema_beta = 0.5$/ema_beta = 0.7/' arch/ring-pack2-s1.config.toml
"$PY" "$repo/bench/results.py" --plan plan.toml --out res --seeds 0-1 --report-only --report-steps 12 \
  >/dev/null 2>mixed.log || fail "report of a mixed [[best]] row: $(cat mixed.log)"
grep -q "warning: ring pack2: its seeds were trained with different settings (train.ema_beta)" mixed.log ||
  fail "a mixed [[best]] row not reported: $(cat mixed.log)"
cp p1.config.toml arch/ring-pack2-s1.config.toml
# A local run dir behind the archive is a leftover: its config is not the run's (a stale ema_beta 0.9 is
# neither a settings change nor archived), nor is an empty config.toml (a run restarting) anything.
mkdir -p res/runs/ring-gan-s1
grep '"event":"eval"' res-old/runs/ring-gan-s1/metrics.jsonl | grep '"step":4[,}]' >res/runs/ring-gan-s1/metrics.jsonl
sed 's/^ema_beta = 0.5$/ema_beta = 0.9/' arch/ring-gan-s1.config.toml >res/runs/ring-gan-s1/config.toml
[[ $(grep -c '"event":"eval"' res/runs/ring-gan-s1/metrics.jsonl) == 1 ]] || fail "the leftover's metrics"
for state in stale empty; do
  "$PY" "$repo/bench/results.py" --plan plan.toml --out res --steps 8 --seeds 1 --only gan --gantry "$GANTRY" \
    >left.log 2>&1 && grep -q "ring-gan-s1: done before" left.log || fail "a $state local config: $(cat left.log)"
  cmp -s s1.config.toml arch/ring-gan-s1.config.toml || fail "a $state local config overwrote the archived one"
  cp res-old/runs/ring-gan-s1/metrics.jsonl res/runs/ring-gan-s1/metrics.jsonl  # as far as the archive now
  : >res/runs/ring-gan-s1/config.toml
done
rm -r res/runs/ring-gan-s1
# --import-published: an earlier published JSON's per-seed values become archived points at its budget.
sed -e 's/^name = "tiny"/name = "tiny2"/' -e 's/^archive = "arch"/archive = "arch2"/' plan.toml >plan2.toml
"$PY" "$repo/bench/results.py" --plan plan2.toml --out res2 --import-published res-old/results.json >imp.log 2>&1 ||
  fail "import: $(cat imp.log)"
grep -q "imported 4 evaluations" imp.log || fail "import count: $(cat imp.log)"
"$PY" "$repo/bench/results.py" --plan plan2.toml --out res2 --seeds 0-1 --report-only --report-steps 8 \
  >/dev/null 2>&1 || fail "report of imported values"
"$PY" - res-old/results.json res2 <<'PY' || fail "imported table"
import json, sys
from pathlib import Path
old = json.loads(Path(sys.argv[1]).read_text())["budgets"]["8"]["ring"]
new = json.loads((Path(sys.argv[2]) / "results.json").read_text())["budgets"]["8"]["ring"]
for a, b in zip(old, new):
    assert b["imported"] == [0, 1] and a["seeds"] == b["seeds"], (a, b)
    for k in ("modes", "hq"):
        assert a[k]["values"] == b[k]["values"] and a[k]["mean"] == b[k]["mean"], (k, a, b)
md = (Path(sys.argv[2]) / "results.md").read_text()
assert "(4 of these runs: values imported" in md, md
assert not list(Path(sys.argv[2]).glob("curves-*.png")), "imported points drawn as curves"
PY

# A variant whose settings are a function of train.steps (a linear rate schedule) is tied to its budget: it is
# not run at another, and its evaluations are tabulated at its budget only (not at 2, where it has one).
sed -e 's/^name = "tiny"/name = "lin"/' -e 's/^archive = "arch"/archive = "arch_lin"/' -e 's/"eval.every=4"/"eval.every=2"/' \
  -e '/^\[\[best\]\]/,/^ring = /d' -e 's/^best_title = .*//' plan.toml >lin.toml
printf '[variants.lin]\nset = ["train.lr_schedule=linear"]\nbudget = 4\n' >>lin.toml
"$PY" "$repo/bench/results.py" --plan lin.toml --out lin --steps 8 --seeds 0 --only lin --gantry "$GANTRY" \
  >lin.log 2>&1 || fail "runner with a budget-bound variant: $(tail -3 lin.log)"
grep -q "ring-lin-s0: tied to its budget 4 (train.lr_schedule): not run at 8" lin.log || fail "bound variant: $(cat lin.log)"
[[ -e lin/runs/ring-lin-s0 ]] && fail "a variant tied to budget 4 was run at 8"
"$PY" "$repo/bench/results.py" --plan lin.toml --out lin --steps 4 --seeds 0 --only lin --gantry "$GANTRY" \
  >lin.log 2>&1 || fail "budget-bound variant at its budget: $(tail -3 lin.log)"
"$PY" "$repo/bench/results.py" --plan lin.toml --out lin --seeds 0 --report-only --report-steps 2,4 >/dev/null 2>&1 ||
  fail "report of a budget-bound variant"
"$PY" - lin <<'PY' || fail "budget-bound rows"
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
steps = [json.loads(l)["step"] for l in open(out / "runs" / "ring-lin-s0" / "metrics.jsonl") if '"event":"eval"' in l]
assert steps == [2, 4], steps
b = json.loads((out / "results.json").read_text())["budgets"]
row = lambda budget: next(r for r in b[budget]["ring"] if r["variant"] == "lin")
assert row("2")["seeds"] == [] and row("4")["seeds"] == [0], (row("2"), row("4"))
assert "## ring at 2 steps" not in (out / "results.md").read_text()
PY
# A schedule without a budget, and a variant or base that sets the runner's own keys, are refused in one line.
printf '[variants.lin2]\nset = ["train.lr_schedule=linear"]\n' >>lin.toml
"$PY" "$repo/bench/results.py" --plan lin.toml --out lin --report-only >bad.log 2>&1 && fail "a schedule without a budget"
[[ $(wc -l <bad.log) == 1 ]] && grep -q "variant lin2 sets train.lr_schedule=linear, a function of train.steps" bad.log ||
  fail "schedule without a budget: $(cat bad.log)"
sed 's/^set = \["train.ema_beta=0.5"\]$/set = ["train.ema_beta=0.5", "train.steps=5"]/' plan.toml >steps.toml
"$PY" "$repo/bench/results.py" --plan steps.toml --out res --report-only >bad.log 2>&1 && fail "a variant setting train.steps"
[[ $(wc -l <bad.log) == 1 ]] && grep -q "variant gan sets train.steps; seeds come from --seeds" bad.log ||
  fail "variant setting train.steps: $(cat bad.log)"

# The table's arithmetic on hand-made events: a metric some runs lack carries its own n; the [window]'s
# lower bound is exact (45000 · (1 − 0.3) = 31500, excluded); where the archive and a run dir both have a
# step, the one that got further wins.
mkdir -p unit/rd
"$PY" - "$repo/bench" <<'PY' || fail "results arithmetic"
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import results
plan = results.load_plan("plan.toml")
ev = lambda step, **modes: {"event": "eval", "step": step, "modes": modes}
per_seed = {0: [ev(8, captured=3, high_quality_share=0.5)], 1: [ev(8, captured=5)]}
row = results.summarize(plan, per_seed, "gan", 8)
assert row["seeds"] == [0, 1] and row["hq"]["n"] == 1 and row["modes"]["n"] == 2, row
assert results.cell(plan, row, "hq") == "50.00 (n 1)", results.cell(plan, row, "hq")
assert results.cell(plan, row, "modes") == "4.00 ± 1.00", results.cell(plan, row, "modes")
window = {"share": 0.3, "conditions": [results.parse_condition("step >= 0")]}
evals = [ev(s, captured=1) for s in (31500, 32000, 45000)]
assert results.window_share(evals, 45000, window) == 1.0
window["conditions"] = [results.parse_condition("step >= 32000")]
assert results.window_share(evals, 45000, window) == 1.0  # 31500 is outside (31500, 45000]
arch, local = Path("unit/a.jsonl"), Path("unit/rd")
write = lambda path, events: path.write_text("".join(json.dumps(e) + "\n" for e in events))
write(arch, [ev(4, captured=1), ev(8, captured=1), ev(12, captured=1)])
write(local / "metrics.jsonl", [ev(4, captured=2), ev(8, captured=2)])
evals, done = results.read_events(local, arch)  # local behind the archive: a leftover
assert done == 12 and [e["modes"]["captured"] for e in evals] == [1, 1, 1], evals
write(local / "metrics.jsonl", [ev(4, captured=2), ev(8, captured=2), ev(12, captured=2), ev(16, captured=2)])
evals, done = results.read_events(local, arch)  # local further: newer
assert done == 16 and [e["modes"]["captured"] for e in evals] == [2, 2, 2, 2], evals
PY
echo PASS
