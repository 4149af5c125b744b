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
# tiny_dcgan_toml: the [model] and [data] sections of a small 28x28 DCGAN
# (BN in G, SN in D) on d.h5, batch 8; callers append what their test varies.
tiny_dcgan_toml() {
  cat <<'TOML'
[model]
arch = "dcgan"
resolution = 28
channels = 1
z_dim = 16
g_width = 8
d_width = 8
g_norm = "bn"
d_weight_norm = "sn"
[data]
path = "d.h5"
batch = 8
TOML
}
