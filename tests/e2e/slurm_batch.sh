#!/usr/bin/env bash
# slurm/gantry.sbatch against the real local Slurm (scripts/slurm_local.sh):
# a 2-task job trains to the same parameters as mpirun -np 2, and a job with
# a failing rank ends non-zero instead of hanging. Skipped (77) without Slurm.
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
sinfo -h >/dev/null 2>&1 || { echo "SKIP: no Slurm controller answers (scripts/slurm_local.sh starts one)"; exit 77; }
args=(smoke --steps 30 --batch 8 --log-every 30)
export GANTRY_BIN=$GANTRY
timeout 180 sbatch --wait --nodes=1 --ntasks=2 --time=5 --output="$WORK/slurm.log" "$repo/slurm/gantry.sbatch" \
  "${args[@]}" --json-out "$WORK/slurm.json" >/dev/null || fail "sbatch job failed"
timeout 120 mpirun -np 2 "$GANTRY" "${args[@]}" --json-out "$WORK/mpirun.json" >"$WORK/mpirun.log" 2>&1 \
  || fail "mpirun run failed"
grep -q '"world_size": 2' "$WORK/slurm.json" || fail "the Slurm job did not run 2 wired ranks"
hash() { sed 's/.*"param_hash": "\([0-9a-f]*\)".*/\1/' "$1"; }
[[ $(hash "$WORK/slurm.json") == $(hash "$WORK/mpirun.json") ]] || fail "srun and mpirun trained different parameters"
start=$SECONDS
timeout 180 sbatch --wait --ntasks=2 --time=5 --output="$WORK/fault.log" "$repo/slurm/gantry.sbatch" \
  smoke --steps 100000 --batch 8 --fault-rank 1 --fault-step 10 >/dev/null
rc=$?
((rc != 0 && rc != 124)) || fail "job with a failing rank returned $rc"
((SECONDS - start <= 90)) || fail "job with a failing rank took $((SECONDS - start))s to end"
grep -q 'gantry: rank 1: injected fault at step 10' "$WORK/fault.log" || fail "no error line from the failing rank"
echo PASS
