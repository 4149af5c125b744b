#!/usr/bin/env bash
# The remaining runs behind docs/RESULTS.md, in priority order, as two lanes
# that each keep one core busy (start both, one per core). Resumable: rerun
# after a stop and bench/results.py skips every run whose budget is already in
# the archive (docs/data/runs/) or in runs/, and continues unfinished ones
# from their checkpoints. Commit docs/data/runs/ now and then: runs/ does not
# survive a new machine.
#   bench/results_campaign.sh A|B|C [GANTRY]
# Lane A: the grid candidate with one bank of 64 sets at 100k (the issue's goal row; seeds 0-2 finished), then the
#   main PacGAN 2-D table (every variant to 10 seeds at 10k).
# Lane B: DiReAL's two presets on the pinned classifier (SN / SN + DiReAL / PGN / baseline have their 3 seeds),
#   then lane A's two steps (the runners' locks give each run to one lane).
# Lane C: the variants to 10 seeds at 10k (short runs: each one finished is kept even when a session ends
#   early), then joins lane A; a third process on two cores slows the other lanes by ~1/3.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lane=${1:?usage: bench/results_campaign.sh A|B|C [GANTRY]}
# The default binary is a copy of build/gantry named by the commit, so a lane started after a new commit (a new
# option in a plan) gets a binary that knows it, while trainers already running keep theirs.
default_bin=$repo/runs/bin/gantry-$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo local)
gantry=${2:-$default_bin}
py=${GANTRY_PYTHON:-$HOME/.local/share/gantry/venv/bin/python}
cd "$repo"
# Trainers run a copy of the binary, so that rebuilding build/ mid-campaign does not touch them.
if [[ ! -x "$gantry" && "$gantry" == "$default_bin" ]]; then
  [[ -x build/gantry ]] || { echo "bench/results_campaign.sh: no build/gantry (run scripts/setup.sh first)" >&2; exit 2; }
  mkdir -p runs/bin && cp build/gantry "$gantry.new" && mv "$gantry.new" "$gantry"
fi
# nice alone does not make a lane yield: with the kernel's autogroups (sched_autogroup_enabled, Debian's
# default) nice weighs a process only against its own session, and a lane started with setsid is a session
# that gets as much CPU as a build's. So the lane's autogroup is made nice 19 as well (where the kernel has
# them): a build or a test run then takes the cores and the lanes keep what is left.
if [[ -w /proc/self/autogroup ]]; then echo 19 > /proc/self/autogroup 2>/dev/null || true; fi
results() { nice -n 10 "$py" bench/results.py --jobs 1 --gantry "$gantry" "$@"; }
log() { printf '[campaign %s %s] %s\n' "$lane" "$(date +%H:%M:%S)" "$*"; }

# One compound command, parsed whole before it runs: bash reads a script as it goes, so editing this file
# while a lane runs would otherwise make the lane continue at a stale byte offset of the new text.
{
case "$lane" in
  A)
    # Two banks of 8 sets (pacgan4_ttur_banks_ema) stopped at 6 seeds: 24.8 modes / ~94 %, with collapses and
    # stray routes. One bank of 64 sets held 25 modes at 95-97 % from 60-62k on seeds 0 and 1 without a collapse
    # (docs/RESULTS.md): its other seeds come first. ~2 h of one core per 100k-step seed with a second run beside it (12-13 steps/s).
    log "grid candidate: TTUR + 64 independent routes + G_ema, 10 seeds at 100k"
    results --plan bench/plans/pacgan2d.toml --steps 100000 --bases grid --seeds 0-9 --only pacgan4_ttur_bank64_ema
    log "the variants to 10 seeds at 10k"
    results --plan bench/plans/pacgan2d.toml --steps 10000 --seeds 0-9 --only pacgan2,direal,fm,mbd,sgan,gan_bn_torch
    ;;
  B)
    # Section 2's rows to 3 seeds on the pinned classifier (~20-40 min of one core per run; all finished on
    # 2026-12-02, so this line reports "done before"), then DiReAL's presets.
    log "Fashion-MNIST (pinned classifier): SN, SN + DiReAL, PGN, baseline, 3 seeds at 10 epochs"
    results --plan bench/plans/fmnist_direal.toml --steps 9380 --seeds 0-2 --bases fmnist_pinned --only sn,sn_direal,pgn,baseline
    log "Fashion-MNIST (pinned classifier): DiReAL with both presets, 3 seeds at 10 epochs"
    results --plan bench/plans/fmnist_direal.toml --steps 9380 --seeds 0-2 --bases fmnist_pinned --only direal,direal_paper
    log "grid candidate: TTUR + 64 independent routes + G_ema, 10 seeds at 100k"
    results --plan bench/plans/pacgan2d.toml --steps 100000 --bases grid --seeds 0-9 --only pacgan4_ttur_bank64_ema
    log "the variants to 10 seeds at 10k"
    results --plan bench/plans/pacgan2d.toml --steps 10000 --seeds 0-9 --only pacgan2,direal,fm,mbd,sgan,gan_bn_torch
    ;;
  C)
    # The runners' locks give each run to one lane, so C and A share the variants without training one twice.
    log "the variants to 10 seeds at 10k"
    results --plan bench/plans/pacgan2d.toml --steps 10000 --seeds 0-9 --only pacgan2,direal,fm,mbd,sgan,gan_bn_torch
    log "grid candidate: TTUR + 64 independent routes + G_ema, 10 seeds at 100k"
    results --plan bench/plans/pacgan2d.toml --steps 100000 --bases grid --seeds 0-9 --only pacgan4_ttur_bank64_ema
    ;;
  *)
    echo "bench/results_campaign.sh: lane must be A, B or C, not '$lane'" >&2
    exit 2
    ;;
esac
log "done"
exit 0
}
