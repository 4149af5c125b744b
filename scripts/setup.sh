#!/usr/bin/env bash
# One-time, idempotent set-up of everything gantry needs on Debian 12 / Ubuntu:
# apt packages, a Python venv (outside the clone) holding the pinned torch
# wheel (which ships LibTorch and its CMake config) plus the Python packages
# the tests use, then a ccache'd build.
#   scripts/setup.sh            install + build
#   scripts/setup.sh --no-build install only
# Environment: GANTRY_HOME (default ~/.local/share/gantry) holds the venv;
#              GANTRY_BUILD (default <repo>/build) is the build folder.
set -euo pipefail

TORCH_VERSION=2.15.0
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GANTRY_HOME=${GANTRY_HOME:-$HOME/.local/share/gantry}
GANTRY_BUILD=${GANTRY_BUILD:-$repo/build}
venv=$GANTRY_HOME/venv
build=1
[[ "${1:-}" == "--no-build" ]] && build=0

log() { printf '[setup] %s\n' "$*"; }

sudo_() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

apt_pkgs=(
  build-essential cmake ninja-build ccache git pkg-config python3 python3-venv python3-pip
  libopenmpi-dev openmpi-bin libhdf5-dev hdf5-tools
  libcli11-dev libgtest-dev libgmock-dev libtomlplusplus-dev nlohmann-json3-dev
  libspdlog-dev libfmt-dev libpng-dev libjpeg-dev libstb-dev libxxhash-dev zlib1g-dev
  clang libclang-rt-14-dev clang-format
  dataset-fashion-mnist slurm-wlm munge
)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing apt packages: ${missing[*]}"
  sudo_ apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "apt packages present"
fi

if [[ ! -x $venv/bin/python ]]; then
  log "creating venv $venv"
  mkdir -p "$GANTRY_HOME"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import torch,sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  log "installing torch==$TORCH_VERSION into $venv (one time, several GB)"
  "$venv/bin/pip" install -q "torch==$TORCH_VERSION"
fi
py_pkgs=(numpy h5py tensorboard safetensors matplotlib)
if ! "$venv/bin/python" -c "import numpy, h5py, tensorboard, safetensors, matplotlib" 2>/dev/null; then
  log "installing python test and plot packages: ${py_pkgs[*]}"
  "$venv/bin/pip" install -q "${py_pkgs[@]}"
fi

((build)) || exit 0
torch_prefix=$("$venv/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
# The torch PCH is large and its hash must match; these settings let ccache reuse it.
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
if [[ ! -f $GANTRY_BUILD/CMakeCache.txt ]]; then
  log "configuring $GANTRY_BUILD"
  cmake -S "$repo" -B "$GANTRY_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$torch_prefix" -DGANTRY_PYTHON="$venv/bin/python"
fi
log "building (jobs: $(nproc))"
cmake --build "$GANTRY_BUILD" -j "$(nproc)"
log "done: $GANTRY_BUILD/gantry"
