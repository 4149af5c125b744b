# Source me (`source scripts/dev_env.sh`) before `cmake --preset NAME`: the
# presets take LibTorch's CMake prefix and the test Python from here, both
# from the venv scripts/setup.sh made.
venv=${GANTRY_HOME:-$HOME/.local/share/gantry}/venv
if [[ ! -x $venv/bin/python ]]; then
  echo "dev_env.sh: no venv at $venv: run scripts/setup.sh first" >&2
  return 1 2>/dev/null || exit 1
fi
export GANTRY_PYTHON=$venv/bin/python
GANTRY_TORCH_PREFIX=$("$GANTRY_PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)')
export GANTRY_TORCH_PREFIX
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
