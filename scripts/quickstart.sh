#!/usr/bin/env bash
# Set up (idempotent), build, pack Fashion-MNIST and train a DCGAN with DiReAL
# on 2 CPU ranks for a few minutes. Leaves in the run dir (default
# runs/quickstart): samples/*.png (G and G_ema grids), metrics.jsonl,
# checkpoints ckpt-*.pt and the resolved config.toml. Running it again
# resumes the run (and finishes at once when it is complete).
#   scripts/quickstart.sh [RUN_DIR] [extra gantry train flags, e.g. --set train.steps=3000]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh"
build=${GANTRY_BUILD:-$repo/build}
run_dir=${1:-$repo/runs/quickstart}
shift || true
cd "$repo"
data=runs/data/fashion-mnist-train.h5
fm=/usr/share/datasets/fashion-mnist
if [[ ! -f $data ]]; then
  mkdir -p "$(dirname "$data")"
  "$build/gantry" pack idx --images $fm/train-images-idx3-ubyte.gz --labels $fm/train-labels-idx1-ubyte.gz --out "$data"
fi
"$repo/launch/mpirun.sh" -n 2 "$build/gantry" train --config configs/fmnist_dcgan_direal.toml --run-dir "$run_dir" \
  --set data.path="\"$data\"" --set train.steps=1000 --set train.checkpoint_every=250 --set log.sample_every=250 \
  --set log.every=50 "$@"
echo "quickstart: samples in $run_dir/samples, metrics in $run_dir/metrics.jsonl, checkpoints in $run_dir"
