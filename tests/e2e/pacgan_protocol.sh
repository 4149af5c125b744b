#!/usr/bin/env bash
# PacGAN's 2-D protocol end to end (configs/pacgan_*.toml): packing (m = 2,
# one G call per pack slot) with the fixed reshuffled training set gives the
# same parameters on 1 and 2 ranks and resumes exactly (R1 on packs too); the evaluation's KL and JSD agree with numpy on
# the logged histogram; bad packing configs exit 2 with one line; and
# bench/results.py runs a small plan with bounded parallelism, resumes, and
# tabulates means ± standard errors equal to numpy's over the runs' own
# metrics (plus curves).
source "$(dirname "$0")/lib.sh"
PY=${2:?usage: $0 gantry python}
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$WORK"
small=(--set data.batch=20 --set data.mixture_pool=60 --set model.pack=2 --set train.checkpoint_every=3
  --set eval.every=3 --set eval.count=500 --set log.every=1 --set log.sample_every=100 --set train.seed=4)
train() {  # train N RUN_DIR STEPS [--set ...]
  local n=$1 dir=$2 steps=$3
  shift 3
  timeout 300 mpirun -np "$n" "$GANTRY" train --config "$repo/configs/pacgan_ring8.toml" --run-dir "$dir" --quiet \
    "${small[@]}" --set train.steps="$steps" "$@" >"$dir.log" 2>&1
}
# 9 steps = 3 epochs of the 60-point set: 1 and 2 ranks agree (sync BN, each rank's half of every pack batch).
train 1 p1 9 || fail "1-rank packed run"
train 2 p2 9 || fail "2-rank packed run"
"$GANTRY" diff p1/ckpt-000000009.pt p2/ckpt-000000009.pt --tol 1e-4 >diff.json 2>&1 ||
  fail "1 vs 2 ranks: $(head -c 600 diff.json)"
# Stopped at step 3 (mid-epoch), resumed to 9: bit-identical to the uninterrupted run.
train 1 r 3 && train 1 r 9 || fail "resumed run"
"$GANTRY" diff p1/ckpt-000000009.pt r/ckpt-000000009.pt --tol 0 >diff.json 2>&1 ||
  fail "resume differs: $(head -c 600 diff.json)"
# Without packing the run differs (the option acts), and so does one G call for both pack slots
# (train.pack_slot_forward = false: G's BN over the step's 20 fakes, not each slot's 10).
train 1 u 9 --set model.pack=1 || fail "unpacked run"
"$GANTRY" diff p1/ckpt-000000009.pt u/ckpt-000000009.pt --tol 0 >/dev/null 2>&1 && fail "model.pack=2 changed nothing"
train 1 w 9 --set train.pack_slot_forward=false || fail "packed run with one G call"
"$GANTRY" diff p1/ckpt-000000009.pt w/ckpt-000000009.pt --tol 0 >/dev/null 2>&1 &&
  fail "train.pack_slot_forward changed nothing"
# A resume trains with the config's Adam options, not the checkpoint's (LibTorch's optimizer archive restores
# the saved β): from p1's step-6 checkpoint, the same config reproduces p1 and β1 = 0 changes the run.
for dir in rs rb; do mkdir -p $dir && cp p1/ckpt-000000006.pt $dir/; done
train 1 rs 9 || fail "resume with the same config"
train 1 rb 9 --set train.beta1_g=0 --set train.beta1_d=0 || fail "resume with beta1 0"
"$GANTRY" diff p1/ckpt-000000009.pt rs/ckpt-000000009.pt --tol 0 >diff.json 2>&1 ||
  fail "resume with the same config differs: $(head -c 600 diff.json)"
"$GANTRY" diff p1/ckpt-000000009.pt rb/ckpt-000000009.pt --tol 0 >/dev/null 2>&1 &&
  fail "resuming with train.beta1_g/d=0 kept the checkpoint's beta1"
# The β1 switch (train.beta1_switch_step = 6, to 0) is that fork in one run: p1 up to step 6, then rb exactly.
train 1 sw 9 --set train.beta1_switch_step=6 --set train.beta1_switch_to=0 || fail "run with a beta1 switch"
"$GANTRY" diff p1/ckpt-000000006.pt sw/ckpt-000000006.pt --tol 0 >diff.json 2>&1 ||
  fail "the beta1 switch acted before its step: $(head -c 600 diff.json)"
"$GANTRY" diff rb/ckpt-000000009.pt sw/ckpt-000000009.pt --tol 0 >diff.json 2>&1 ||
  fail "the beta1 switch differs from resuming with beta1 0: $(head -c 600 diff.json)"
# R1 on packs (its mean is per pack, D's data point): the same on 1 and 2 ranks, logged, and it acts.
train 1 q1 9 --set reg.r1_gamma=1 || fail "1-rank packed run with R1"
train 2 q2 9 --set reg.r1_gamma=1 || fail "2-rank packed run with R1"
"$GANTRY" diff q1/ckpt-000000009.pt q2/ckpt-000000009.pt --tol 1e-4 >diff.json 2>&1 ||
  fail "R1 on packs, 1 vs 2 ranks: $(head -c 600 diff.json)"
"$GANTRY" diff p1/ckpt-000000009.pt q1/ckpt-000000009.pt --tol 0 >/dev/null 2>&1 && fail "reg.r1_gamma=1 changed nothing"
"$PY" -c '
import json, sys
r1 = [e["r1"] for e in map(json.loads, open(sys.argv[1])) if "r1" in e]
assert len(r1) == 9 and all(v > 0 for v in r1), r1' q1/metrics.jsonl || fail "R1 not logged per step"
# Lazy R1 (every 4th D step, scaled by 4): due at steps 1, 5, 9 (D-step count 0, 4, 8). Steps between
# log the last applied term but do not pay it (loss_d = loss_d_adv there); step 1 is 4x the eager run's.
train 1 q4 9 --set reg.r1_gamma=1 --set reg.r1_interval=4 || fail "1-rank packed run with lazy R1"
"$PY" - q1/metrics.jsonl q4/metrics.jsonl <<'PY' || fail "lazy R1's log"
import json, sys
eager, lazy = ({e["step"]: e for e in map(json.loads, open(f)) if "r1" in e} for f in sys.argv[1:])
assert sorted(lazy) == list(range(1, 10)), sorted(lazy)
close = lambda a, b: abs(a - b) <= 1e-5 * max(1.0, abs(a), abs(b))
assert close(lazy[1]["r1"], 4 * eager[1]["r1"]), (lazy[1]["r1"], eager[1]["r1"])
for t, e in lazy.items():
    due = (t - 1) % 4 == 0
    held = e["r1"] if due else lazy[(t - 1) // 4 * 4 + 1]["r1"]
    assert e["r1"] == held, (t, e["r1"], held)
    paid = e["loss_d"] - e["loss_d_adv"]
    assert close(paid, e["r1"] if due else 0.0), (t, paid, e["r1"])
PY

"$PY" - p1/metrics.jsonl <<'PY' || fail "eval events"
import json, math, sys
import numpy as np
evals = [json.loads(l) for l in open(sys.argv[1]) if '"event":"eval"' in l]
assert [e["step"] for e in evals] == [3, 6, 9], evals
for e in evals:
    m = e["modes"]
    assert m["mixture"] == "pacgan_ring8" and m["total"] == 8 and e["net"] == "G", e
    h = np.array(m["histogram"], float)
    if h.sum() == 0:
        assert m["kl"] is None and m["jsd"] is None, m
        continue
    p, u = h / h.sum(), np.full(8, 1 / 8)
    mid = (p + u) / 2
    nz = p > 0
    kl = float(np.sum(p[nz] * np.log(8 * p[nz])))
    jsd = 0.5 * float(np.sum(p[nz] * np.log(p[nz] / mid[nz]))) + 0.5 * float(np.sum(u * np.log(u / mid)))
    assert abs(m["kl"] - kl) < 1e-9 and abs(m["jsd"] - jsd) < 1e-9, (m, kl, jsd)
    assert 0 <= m["jsd"] <= math.log(2)
PY

expect_bad() {  # expect_bad NAME NEEDLE NP SETS...: exit 2, one gantry line containing NEEDLE (mpirun adds its own)
  local name=$1 needle=$2 np=$3
  shift 3
  mpirun -np "$np" "$GANTRY" train --config "$repo/configs/pacgan_ring8.toml" --run-dir bad --quiet "$@" >bad.out 2>bad.err
  local rc=$?
  [[ $rc == 2 && $(grep -c '^gantry:' bad.err) == 1 ]] && grep -qF -- "$needle" bad.err ||
    fail "$name: rc $rc, stderr: $(cat bad.err)"
}
expect_bad "pack not dividing the batch" "model.pack 3: data.batch and train.g_batch per rank (50, 50)" 2 \
  --set model.pack=3
expect_bad "pack with a gradient penalty" "model.pack > 1 does not combine with reg.wgan_gp" 1 \
  --set model.pack=2 --set reg.wgan_gp=true
expect_bad "pool smaller than a batch" "data.mixture_pool 50 is smaller than data.batch 100" 1 \
  --set data.mixture_pool=50
expect_bad "maxout on a conv D" "d_activation = \"maxout\" is for model.arch = \"mlp\"" 1 \
  --set model.arch=dcgan --set model.resolution=28 --set model.channels=1 --set data.mixture= \
  --set data.mixture_pool=0 --set data.path=none.h5 --set model.mlp_init=kaiming_normal
expect_bad "slot forward with stochastic banks" "train.pack_slot_forward with model.pack > 1 needs a G without" 1 \
  --set model.pack=2 --set model.mlp_banks=1
expect_bad "unknown mixture" "pacgan_ring8, pacgan_grid25" 1 --set data.mixture=ring9

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
       "log.sample_every=100"]
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
[[ $(wc -l <bad.log) == 1 ]] && grep -q "variant b has extend; a variant takes only set and extends" bad.log ||
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
echo PASS
