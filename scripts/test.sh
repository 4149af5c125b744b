#!/usr/bin/env bash
# Set up (idempotent), build, and run every test: unit and multi-rank tests
# under mpirun (1-4 ranks), and end-to-end runs of the gantry executable.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh"
build=${GANTRY_BUILD:-$repo/build}
# A real local Slurm for the batch-script test (skipped if it cannot start).
"$repo/scripts/slurm_local.sh" || echo "test.sh: no local Slurm; e2e_slurm_batch will be skipped"
# Tests oversubscribe a 2-core machine with up to 4 ranks: run them one at a time.
ctest --test-dir "$build" --output-on-failure -j 1 "$@"
