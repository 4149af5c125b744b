#!/usr/bin/env bash
# With a /dev/shm too small for the gradient buffers (containers default to 64 MiB), the
# communicator's shared-memory reduce buffers fall back to private ones reduced by MPI on every
# rank: one note on stderr, and the SharedReduce and GradSync tests still pass. Runs in a private
# mount namespace with a 16 MiB tmpfs over /dev/shm (root only; skipped otherwise).
#   small_shm.sh DIST_TESTS_BINARY MPIEXEC
set -uo pipefail
tests=$1 mpiexec=$2
[[ $(id -u) == 0 ]] || { echo "small_shm: not root: skipped"; exit 77; }
unshare -m true 2>/dev/null || { echo "small_shm: no mount namespaces here: skipped"; exit 77; }
out=$(unshare -m sh -c 'mount -t tmpfs -o size=16M tmpfs /dev/shm && exec "$0" -np 2 "$1" --gtest_filter="SharedReduce.*:GradSync.*"' \
  "$mpiexec" "$tests" 2>&1)
rc=$?
if [[ $rc != 0 ]]; then
  printf '%s\n' "$out" | tail -20
  echo "small_shm: tests failed with a 16 MiB /dev/shm (rc $rc)"
  exit 1
fi
grep -q "could not be mapped on some rank" <<<"$out" || { echo "small_shm: no note about the fallback"; exit 1; }
echo "small_shm: a 12 MiB buffer fell back to MPI under a 16 MiB /dev/shm; SharedReduce and GradSync pass"
