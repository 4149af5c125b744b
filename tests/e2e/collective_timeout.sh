#!/usr/bin/env bash
# A collective that waits past the timeout aborts the job instead of hanging.
source "$(dirname "$0")/lib.sh"
start=$SECONDS
GANTRY_STALL_WARN_S=1 GANTRY_COLLECTIVE_TIMEOUT_S=3 timeout 120 mpirun -np 2 "$GANTRY" smoke --steps 8 --batch 4 \
  --stall-rank 1 --stall-step 2 --stall-seconds 100 >"$WORK/run.log" 2>&1
rc=$?
elapsed=$((SECONDS - start))
echo "exit code $rc after ${elapsed}s"
((rc != 0 && rc != 124)) || fail "expected an abort, got exit code $rc"
((elapsed <= 40)) || fail "abort took ${elapsed}s"
grep -q 'rank 0: collective #[0-9]* (.*) timed out after' "$WORK/run.log" || fail "no timeout message from rank 0"
echo PASS
