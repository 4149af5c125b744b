#!/usr/bin/env bash
# Proves scripts/gpu_bundle.sh + scripts/gpu_check.sh on this machine, without
# a GPU: a bare Debian 12 root (made once with mmdebstrap: a compiler, cmake,
# ninja, python3 and nothing else gantry needs: no MPI, no HDF5, no header
# libraries, no pkg-config) entered with unshare (own mount and network
# namespaces: no network inside) and chroot. Inside it gpu_check.sh builds
# gantry from the carried bundle and runs the CPU test suite; the CUDA stages
# say that no GPU is visible and skip.
#   scripts/gpu_bundle_selftest.sh [--budget SECONDS] [GPU_CHECK_ARGS ...]     (root only)
# (e.g. --stages ctest to rerun the CPU suite on an existing build-selftest/)
# What the bare root borrows from this machine, read-only, at the same paths:
# the gantry venv's Python with the torch wheel (PyPI's torch is the CUDA
# build, whose CMake config needs the CUDA toolkit, as on the GPU machine) and
# /usr/local/cuda. The GPU machine has both of its own.
# Environment: GANTRY_BARE_ROOT (default /var/tmp/gantry-bare-root).
# Results: runs/gpu_selftest/ (summary.txt); build: build-selftest/.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
budget=5400
if [[ ${1:-} == --budget ]]; then budget=${2:?}; shift 2; fi
extra=("$@")
root=${GANTRY_BARE_ROOT:-/var/tmp/gantry-bare-root}
venv=${GANTRY_HOME:-$HOME/.local/share/gantry}/venv
die() { printf 'gpu_bundle_selftest: %s\n' "$*" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "SKIP: gpu_bundle_selftest needs root (mount and network namespaces, chroot)"; exit 77; }
[[ -x $venv/bin/python ]] || die "no gantry venv at $venv (scripts/setup.sh --no-build)"
[[ -x /usr/local/cuda/bin/nvcc ]] || die "no CUDA toolkit at /usr/local/cuda"
[[ -f $repo/.gpu_bundle/MANIFEST.json ]] || "$repo/scripts/gpu_bundle.sh"

if [[ ! -x $root/usr/bin/cmake ]]; then
  command -v mmdebstrap >/dev/null || apt-get install -y -qq mmdebstrap >/dev/null
  echo "[selftest] making the bare root $root"
  mmdebstrap --variant=minbase --include=g++,cmake,ninja-build,python3,make,procps bookworm "$root" \
    http://deb.debian.org/debian
fi
for absent in mpirun mpicc h5ls pkg-config; do
  [[ ! -e $root/usr/bin/$absent ]] || die "the bare root has $absent: it is not bare ($root)"
done
# The venv's interpreter may live outside it (pyenv): carry its real home too.
py_home=$(dirname "$(dirname "$(readlink -f "$venv/bin/python")")")

start=$SECONDS
rc=0
unshare --mount --net --propagation private bash -s -- "$root" "$repo" "$venv" "$py_home" "$budget" "${extra[@]}" <<'EOF' || rc=$?
set -euo pipefail
root=$1 repo=$2 venv=$3 py_home=$4 budget=$5
shift 5
ip link set lo up 2>/dev/null || true   # Open MPI's ranks talk over loopback; nothing else exists
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
mount -t tmpfs tmpfs "$root/tmp"
for d in "$repo" "$venv" "$py_home" /usr/local/cuda; do
  mkdir -p "$root$d"
  mount --bind "$d" "$root$d"
done
mount -o remount,bind,ro "$root$venv"; mount -o remount,bind,ro "$root/usr/local/cuda"
chroot "$root" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
  bash "$repo/scripts/gpu_check.sh" --python "$venv/bin/python" --build "$repo/build-selftest" \
  --out "$repo/runs/gpu_selftest" --budget "$budget" "$@"
EOF
echo "[selftest] gpu_check.sh in the bare root exited $rc after $((SECONDS - start)) s (summary: runs/gpu_selftest/summary.txt)"
exit $rc
