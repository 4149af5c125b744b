#!/usr/bin/env bash
# Mode-collapse results on the 2-D mixtures: ring-8 and grid-25, baseline vs
# DiReAL vs minibatch discrimination vs SGAN (stochastic banks + split loss),
# seeds 0..2. Each run: configs/<mixture>_mlp.toml on 1 CPU rank, then
# `gantry eval --metrics modes,diversity --count 2500` on G (not G_ema).
# Two runs at a time. Prints one JSON line per run, then a markdown table.
#   bench/results_2d.sh [BUILD_DIR] [OUT_DIR] [STEPS]
set -euo pipefail
build=${1:-build}
out=${2:-runs/results_2d}
steps=${3:-4000}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 GANTRY_DEVICE=cpu GANTRY_THREADS=1
declare -A variant=(
  [baseline]=""
  [direal]="--set reg.direal_d=true --set reg.direal_g=true"
  # MBD is O(B² · kernels · dim) per D forward: 8 kernels of dim 3 keep it affordable on a CPU at B = 256.
  [mbd]="--set model.mbd_kernels=8 --set model.mbd_kernel_dim=3"
  # The split loss is O(B² · width) per G step: the G batch is 64 here (D batch 256 as the others).
  [sgan]="--set model.mlp_banks=2 --set model.sdeconv_sets=8 --set reg.split_loss_lambda=1.0 --set train.g_batch=64"
)
mkdir -p "$out"
one() {  # one MIXTURE VARIANT SEED
  local dir=$out/$1-$2-s$3
  # A finished run (its last checkpoint is there) is only evaluated again.
  if [[ ! -f $dir/ckpt-$(printf %09d "$steps").pt ]]; then
    rm -rf "$dir"
    # shellcheck disable=SC2086
    "$build/gantry" train --config "configs/$1_mlp.toml" --run-dir "$dir" --quiet --set train.steps="$steps" \
      --set train.seed="$3" --set eval.every=0 --set train.checkpoint_every="$steps" ${variant[$2]} >"$dir.train.log" 2>&1
  fi
  "$build/gantry" eval --run-dir "$dir" --metrics modes,diversity --count 2500 --seed 123 2>"$dir.eval.log" |
    python3 -c "import json,sys; r=json.load(sys.stdin); r.update(mixture='$1', variant='$2', run_seed=$3); print(json.dumps(r))"
}
jobs_file=$out/results.jsonl
: >"$jobs_file"
for m in ring8 grid25; do
  for v in baseline direal mbd sgan; do
    for s in 0 1 2; do
      while (($(jobs -rp | wc -l) >= 2)); do sleep 1; done
      one "$m" "$v" "$s" >>"$jobs_file" &
    done
  done
done
wait
cat "$jobs_file"
python3 - "$jobs_file" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| mixture | variant | modes (per seed) | mean modes | HQ share (mean ± sd) | KL (mean) | mean pairwise dist |")
print("|---|---|---|---|---|---|---|")
for m in ("ring8", "grid25"):
    for v in ("baseline", "direal", "mbd", "sgan"):
        rs = sorted((r for r in rows if r["mixture"] == m and r["variant"] == v), key=lambda r: r["run_seed"])
        if not rs:
            continue
        modes = [r["modes"]["captured"] for r in rs]
        hq = [r["modes"]["high_quality_share"] for r in rs]
        kl = [r["modes"]["kl"] for r in rs if r["modes"]["kl"] is not None]
        pd = [r["diversity"]["mean_pairwise_distance"] for r in rs]
        total = rs[0]["modes"]["total"]
        kl_text = f"{statistics.mean(kl):.3f}" if kl else "n/a"
        print(f"| {m} | {v} | {'/'.join(map(str, modes))} of {total} | {statistics.mean(modes):.1f} | "
              f"{statistics.mean(hq):.3f} ± {statistics.pstdev(hq):.3f} | {kl_text} | {statistics.mean(pd):.2f} |")
PY
