#!/usr/bin/env bash
# A rank that throws brings the whole job down quickly, with its error line.
source "$(dirname "$0")/lib.sh"
start=$SECONDS
timeout 120 mpirun -np 3 "$GANTRY" smoke --steps 1000 --batch 12 --fault-rank 1 --fault-step 5 >"$WORK/run.log" 2>&1
rc=$?
elapsed=$((SECONDS - start))
echo "exit code $rc after ${elapsed}s"
((rc != 0 && rc != 124)) || fail "expected a non-zero exit before the timeout, got $rc"
grep -q 'gantry: rank 1: injected fault at step 5' "$WORK/run.log" || fail "missing the failing rank's error line"
((elapsed <= 60)) || fail "job took ${elapsed}s to come down"
echo PASS
