#!/usr/bin/env bash
# Runs gantry's fuzzers (fuzz/CMakeLists.txt): first every regression input
# (fuzz/regressions/<target>/: inputs that once crashed, each must now pass),
# then each target for --seconds, one after another, growing a working corpus
# under --out that a later run continues from (a campaign resumes). Prints one
# JSON line per target (execs, execs/s, coverage, corpus, crashes) and writes
# them to <out>/summary.jsonl; exit 1 if any target crashed, leaked, timed out
# or failed a regression input (the input is kept as <out>/<target>/crash-*).
# --seed N fixes libFuzzer's seed: from the same corpus, a run then replays the
# same inputs in the same order (a slower machine runs a prefix of them), so a
# CI failure reproduces; campaigns leave it random.
#   fuzz/run.sh [--seconds 10] [--seed N] [--build build/fuzz] [--out runs/fuzz] [--jobs 1] [target ...]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=10 seed=0 build=$repo/build/fuzz out=$repo/runs/fuzz jobs=1
targets=()
while (($#)); do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz/run.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "fuzz/run.sh: --seconds must be a positive integer" >&2; exit 2; }
[[ $seed =~ ^[0-9]+$ ]] || { echo "fuzz/run.sh: --seed must be a non-negative integer (0: random)" >&2; exit 2; }
((${#targets[@]})) || targets=(idx image h5 config checkpoint)
export LSAN_OPTIONS="suppressions=$repo/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS="${ASAN_OPTIONS:-allocator_may_return_null=0}"
export GANTRY_THREADS=1 OMP_NUM_THREADS=1
mkdir -p "$out"
build=$(realpath "$build") out=$(realpath "$out")
failed=0
for t in "${targets[@]}"; do
  exe=$build/fuzz_$t
  [[ -x $exe ]] || { echo "fuzz/run.sh: $exe not built (clang + libclang-rt-14-dev, then cmake --build build)" >&2; exit 2; }
  work=$out/$t
  mkdir -p "$work/corpus"
  log=$work/last.log
  # libhdf5 1.10.8 sizes a metadata read of an old-format superblock from unchecked fields
  # (a 64-byte file makes it allocate 2.2 GB, then refuse it: fuzz/upstream/): allow that much.
  # It also sizes a metadata read from a damaged field: malloc(0x8585850000000058) in H5C_protect, where
  # glibc returns NULL, libhdf5 fails and gantry refuses the file (fuzz/regressions/h5/hdf5-*); ASan would
  # abort on it (allocation-size-too-big), so for h5 it returns NULL as glibc does. A failing operator new
  # (gantry's own allocations) is still a finding: ASan reports it whatever this option says.
  malloc_mb=2048 asan=$ASAN_OPTIONS
  [[ $t == h5 ]] && malloc_mb=4096 asan=$ASAN_OPTIONS:allocator_may_return_null=1
  regressions=("$repo"/fuzz/regressions/"$t"/*)
  if [[ -e ${regressions[0]} ]] && ! ASAN_OPTIONS=$asan "$exe" -runs=1 -malloc_limit_mb=$malloc_mb "${regressions[@]}" >"$work/regressions.log" 2>&1; then
    echo "fuzz/run.sh: $t: a regression input fails again (log: $work/regressions.log)" >&2
    failed=1
    continue
  fi
  rc=0
  (cd "$work" && ASAN_OPTIONS=$asan "$exe" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=6144 -malloc_limit_mb=$malloc_mb \
    -print_final_stats=1 -seed="$seed" -jobs="$jobs" -workers="$jobs" -artifact_prefix="$work/" corpus "$repo/fuzz/corpus/$t") \
    >"$log" 2>&1 || rc=$?
  if ((jobs > 1)); then cat "$work"/fuzz-*.log >>"$log" 2>/dev/null || true; fi
  stat() { { grep -o "stat::$1: *[0-9]*" "$log" || true; } | awk '{s += $2} END {print s + 0}'; }
  cov=$({ grep -o 'cov: [0-9]*' "$log" || true; } | tail -1 | awk '{print $2 + 0}')
  ft=$({ grep -o 'ft: [0-9]*' "$log" || true; } | tail -1 | awk '{print $2 + 0}')
  crashes=$(find "$work" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  execs=$(stat number_of_executed_units)
  line=$(printf '{"target":"%s","seconds":%s,"execs":%s,"execs_per_s":%s,"cov":%s,"features":%s,"corpus":%s,"findings":%s,"exit":%s}' \
    "$t" "$seconds" "$execs" "$((execs / seconds))" "${cov:-0}" "${ft:-0}" "$(find "$work/corpus" -type f | wc -l)" "$crashes" "$rc")
  echo "$line" | tee -a "$out/summary.jsonl"
  if ((rc != 0 || crashes > 0)); then
    echo "fuzz/run.sh: $t found something: $(find "$work" -maxdepth 1 -name '[clto]*-*' -printf '%f ' | head -c 300) (log: $log)" >&2
    failed=1
  fi
done
exit $failed
