#!/usr/bin/env bash
# One rank of 3 killed with SIGKILL mid-training: mpirun exits non-zero within 30 s.
source "$(dirname "$0")/lib.sh"
mpirun -np 3 "$GANTRY" smoke --steps 1000000 --batch 12 --log-every 5 >"$WORK/run.log" 2>&1 &
MPI_PID=$!
wait_for '^step ' "$WORK/run.log" 120 || fail "training did not start"
victim=$(pgrep -P "$MPI_PID" | sed -n 2p)
[[ -n $victim ]] || fail "no rank process found under mpirun $MPI_PID"
start=$SECONDS
kill -9 "$victim"
wait "$MPI_PID"
rc=$?
MPI_PID=
elapsed=$((SECONDS - start))
echo "mpirun exit code $rc after ${elapsed}s"
((rc != 0)) || fail "mpirun exited 0 after a rank was killed"
((elapsed <= 30)) || fail "job took ${elapsed}s to come down (limit 30s)"
echo PASS
