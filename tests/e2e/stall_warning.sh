#!/usr/bin/env bash
# A rank that stalls is named by rank 0's stall detector; the job still completes.
source "$(dirname "$0")/lib.sh"
GANTRY_STALL_WARN_S=1 timeout 120 mpirun -np 3 "$GANTRY" smoke --steps 8 --batch 12 \
  --stall-rank 2 --stall-step 3 --stall-seconds 4 >"$WORK/run.log" 2>&1
rc=$?
((rc == 0)) || fail "stalled run exited $rc"
grep -q 'gantry: stall: collective #[0-9]* .*ranks not arrived: \[2\]' "$WORK/run.log" \
  || fail "no stall warning naming rank 2"
echo PASS
