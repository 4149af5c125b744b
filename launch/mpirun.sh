#!/usr/bin/env bash
# Workstation launcher: mpirun with one rank per GPU (or -n N ranks on CPU),
# ranks bound to cores when there are enough of them, root allowed, gantry's
# environment passed through.
#   launch/mpirun.sh [-n N] gantry <subcommand> ...
set -euo pipefail
n=
if [[ ${1:-} == -n ]]; then n=$2; shift 2; fi
if [[ -z $n ]]; then
  n=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
  ((n > 0)) || n=1
fi
args=(-np "$n")
cores=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # usable cores (plain nproc obeys OMP_NUM_THREADS)
if ((n > cores)); then args+=(--oversubscribe --bind-to none); else args+=(--bind-to core --map-by slot); fi
[[ $(id -u) == 0 ]] && args+=(--allow-run-as-root)
# Containers often forbid cross-process memory attach; shared memory still works.
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
for v in $(env | grep -o '^\(GANTRY\|OMP\|CUDA\|NCCL\)_[A-Z_]*' || true); do args+=(-x "$v"); done
exec mpirun "${args[@]}" "$@"
