# Shared helpers for the end-to-end tests: each test gets a scratch folder,
# fails with a message and the captured log, and never leaves ranks behind.
set -u
GANTRY=${1:?usage: $0 path/to/gantry}
WORK=$(mktemp -d)
MPI_PID=
cleanup() {
  [[ -n $MPI_PID ]] && kill -9 "$MPI_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$WORK"/*.log; do [[ -f $f ]] && { echo "--- $f"; tail -n 40 "$f"; }; done
  exit 1
}
# wait_for PATTERN FILE SECONDS: until FILE has a line matching PATTERN.
wait_for() {
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    grep -q -- "$1" "$2" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
