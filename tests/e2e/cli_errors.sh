#!/usr/bin/env bash
# Bad flags, bad world sizes and bad environment: one clear error line, non-zero exit.
source "$(dirname "$0")/lib.sh"
expect_error() {  # expect_error CODE PATTERN command...
  local code=$1 pattern=$2
  shift 2
  timeout 120 "$@" >"$WORK/err.log" 2>&1
  local rc=$?
  [[ $rc == "$code" ]] || fail "'$*' exited $rc, expected $code"
  grep -q -- "$pattern" "$WORK/err.log" || fail "'$*' did not print '$pattern'"
}
expect_error 2 "gantry: .*frobnicate" "$GANTRY" frobnicate
expect_error 2 "gantry: .*--steps" "$GANTRY" smoke --steps -3
expect_error 2 "gantry: .*--bogus" "$GANTRY" smoke --bogus
expect_error 2 "gantry: rank 0: --batch 7 must be a multiple of the world size 2" mpirun -np 2 "$GANTRY" smoke --batch 7
expect_error 1 "GANTRY_STALL_WARN_S='soon' is not a number" env GANTRY_STALL_WARN_S=soon "$GANTRY" smoke --steps 1
expect_error 1 "GANTRY_DEVICE='bogus' must be cpu, cuda or auto" env GANTRY_DEVICE=bogus "$GANTRY" smoke --steps 1
if ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  expect_error 1 "GANTRY_DEVICE=cuda but no GPU is visible" env GANTRY_DEVICE=cuda "$GANTRY" smoke --steps 1
fi
env GANTRY_DEVICE=auto "$GANTRY" smoke --steps 1 >"$WORK/auto.log" 2>&1 || fail "GANTRY_DEVICE=auto: $(tail -2 "$WORK/auto.log")"
# A Slurm step whose ranks were not wired together (srun without PMIx starts singletons).
expect_error 1 "MPI world size 1 != SLURM_NTASKS 2" env SLURM_NTASKS=2 SLURM_STEP_ID=0 "$GANTRY" smoke --steps 1
echo PASS
