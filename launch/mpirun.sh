#!/usr/bin/env bash
# Workstation launcher: mpirun with one rank per GPU (or -n N ranks on CPU),
# ranks bound to cores when there are enough of them, root allowed, gantry's
# environment passed through.
#   launch/mpirun.sh [-n N] gantry <subcommand> ...
# Stop signals: TERM, INT (Ctrl-C) or HUP to this launcher become a USR1 to
# mpirun, which forwards it to every rank: `gantry train` checkpoints at the
# next step and the launcher exits 75 (requeue and run again to resume). A
# second one stops the job at once (TERM to mpirun). mpirun itself runs in its
# own session, so that a terminal's Ctrl-C reaches only the launcher (plain
# mpirun would abort the job on TERM/INT and exit 1 after the ranks' checkpoint).
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
setsid mpirun "${args[@]}" "$@" </dev/null &
pid=$!
stops=0
stop() {
  stops=$((stops + 1))
  if ((stops == 1)); then
    echo "launch/mpirun.sh: stop requested: the ranks checkpoint at the next step (again to stop at once)" >&2
    kill -USR1 "$pid" 2>/dev/null
  else
    kill -TERM "$pid" 2>/dev/null
  fi
}
trap stop TERM INT HUP
# `wait` returns early (status > 128) when a trapped signal arrives: wait until mpirun is gone.
while :; do
  rc=0
  wait "$pid" || rc=$?
  kill -0 "$pid" 2>/dev/null || break
done
exit "$rc"
