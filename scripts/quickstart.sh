#!/usr/bin/env bash
# Set up (idempotent), build, and run the main job on 2 ranks on this machine's CPU.
# Until the GAN trainer lands this is the distributed smoke demo; its summary
# JSON is written to runs/quickstart/summary.json.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh"
build=${GANTRY_BUILD:-$repo/build}
run_dir=${1:-$repo/runs/quickstart}
mkdir -p "$run_dir"
"$build/gantry" version
"$repo/launch/mpirun.sh" -n 2 "$build/gantry" smoke --steps 300 --batch 64 --json-out "$run_dir/summary.json"
echo "quickstart: summary in $run_dir/summary.json"
