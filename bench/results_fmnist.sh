#!/usr/bin/env bash
# Fashion-MNIST results in the offline classifier's feature space: baseline
# DCGAN vs + DiReAL vs + SN + DiReAL vs + PGN, one seed, short CPU runs on 2
# ranks, then `gantry eval --metrics is,fid,diversity --count 10000` on G_ema
# with the classifier of `gantry eval train-classifier` (trained here if absent).
#   bench/results_fmnist.sh [BUILD_DIR] [OUT_DIR] [STEPS]
set -euo pipefail
build=${1:-build}
out=${2:-runs/results_fmnist}
steps=${3:-1000}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
  OMPI_MCA_btl_vader_single_copy_mechanism=none GANTRY_DEVICE=cpu GANTRY_THREADS=1
FM=/usr/share/datasets/fashion-mnist
data=runs/data
mkdir -p "$out" "$data"
[[ -f $data/fashion-mnist-train.h5 ]] || "$build/gantry" pack idx --images $FM/train-images-idx3-ubyte.gz \
  --labels $FM/train-labels-idx1-ubyte.gz --out $data/fashion-mnist-train.h5 --quiet >/dev/null
[[ -f $data/fashion-mnist-test.h5 ]] || "$build/gantry" pack idx --images $FM/t10k-images-idx3-ubyte.gz \
  --labels $FM/t10k-labels-idx1-ubyte.gz --out $data/fashion-mnist-test.h5 --quiet >/dev/null
clf=$out/fmnist-classifier.pt
[[ -f $clf ]] || GANTRY_THREADS=2 "$build/gantry" eval train-classifier --data $data/fashion-mnist-train.h5 \
  --test $data/fashion-mnist-test.h5 --out "$clf" --name FMNIST >"$out/classifier.json"
cat "$out/classifier.json"
declare -A run=(
  [baseline]="--config configs/fmnist_dcgan.toml"
  [direal]="--config configs/fmnist_dcgan_direal.toml"
  [sn_direal]="--config configs/fmnist_dcgan_sn_direal.toml"
  [pgn]="--config configs/fmnist_dcgan.toml --set reg.grad_norm=\"pgn\""
)
: >"$out/results.jsonl"
for v in baseline direal sn_direal pgn; do
  # shellcheck disable=SC2086
  eval mpirun -np 2 "$build/gantry" train ${run[$v]} --run-dir "$out/$v" --quiet --set train.steps="$steps" \
    --set train.checkpoint_every="$steps" --set log.sample_every="$steps" >"$out/$v.train.log" 2>&1
  mpirun -np 2 "$build/gantry" eval --run-dir "$out/$v" --metrics is,fid,diversity --count 10000 --ema \
    --feature-net "$clf" 2>"$out/$v.eval.log" |
    python3 -c "import json,sys; r=json.load(sys.stdin); r.update(variant='$v'); print(json.dumps(r))" >>"$out/results.jsonl"
done
cat "$out/results.jsonl"
python3 - "$out/results.jsonl" <<'PY'
import json, sys
print("| run | IS-FMNIST | FID-FMNIST | R(G) | R(D) | mean pairwise dist |")
print("|---|---|---|---|---|---|")
for l in open(sys.argv[1]):
    r = json.loads(l)
    d = r["diversity"]
    f = lambda x: "n/a" if x is None else f"{x:.3g}"
    print(f"| {r['variant']} | {r['IS-FMNIST']['mean']:.2f} ± {r['IS-FMNIST']['std']:.2f} | {r['FID-FMNIST']['value']:.1f} | "
          f"{f(d['R_G'])} | {f(d['R_D'])} | {d['mean_pairwise_distance']:.2f} |")
PY
