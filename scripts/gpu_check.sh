#!/usr/bin/env bash
# Build, test and benchmark gantry on a bare CUDA machine, offline, from the
# bundle that scripts/gpu_bundle.sh made (carried beside the source tree) and
# the machine's own PyTorch (its LibTorch, CMake config and NCCL).
#   scripts/gpu_check.sh [--bundle DIR] [--out DIR] [--build DIR] [--budget SECONDS]
#                        [--python PYTHON] [--jobs N] [--bench-reps R] [--stages env,build,...]
#                        [--bench-workloads W1,W2] [--bench-variants V1,V2] [--scaling-workloads W1,W2]
# Defaults: <repo>/.gpu_bundle, <repo>/runs/gpu_check, <repo>/build-gpu,
# 1500 s (25 min), python3, all cores, 1, every stage (env and build always run).
# Stages, in order of value, each skipped with a line when the budget is spent:
#   env       machine, GPU, compiler, PyTorch/CUDA/NCCL versions    -> env.json
#   build     configure (CUDA + NCCL when the toolkit is there) and build
#             gantry + the CUDA test binaries first                 -> build.log
#   version   gantry version                                         -> version.txt
#   cuda      CUDA parity tests; NCCL at world size 1 under mpirun   -> cuda_*.json/log
#   bench     GPU benchmarks vs the PyTorch reference, same GPU      -> gpu_bench.json/log
#   scaling   1-GPU compute profile for the scaling model: step split and
#             per-bucket backward times (bench/scaling.py, log.timing) -> scaling_gpu.json
#   train     each config family trains on CUDA; CUDA<->CPU resume   -> cuda_train.log/json
#   ctest     the rest of the build, then the CPU test suite         -> ctest.log, ctest.xml
# Without a visible GPU the CUDA stages say so and skip (the tests still run and
# skip themselves). Ends with a one-screen summary (summary.txt, summary.json).
# Exit status: 0 when every stage that ran passed.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bundle=$repo/.gpu_bundle
out=$repo/runs/gpu_check
build=$repo/build-gpu
budget=1500
python=python3
jobs=$(nproc)
bench_reps=1
stages=env,build,version,cuda,bench,scaling,train,ctest
bench_workloads=
bench_variants=
scaling_workloads=resnet128_pgn,resnet256_pgn,dcgan64,sngan32_pgn
die() { printf 'gpu_check: %s\n' "$*" >&2; exit 2; }
while (($#)); do
  case $1 in
    --bundle) bundle=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --build) build=${2:?}; shift 2 ;;
    --budget) budget=${2:?}; shift 2 ;;
    --python) python=${2:?}; shift 2 ;;
    --jobs) jobs=${2:?}; shift 2 ;;
    --bench-reps) bench_reps=${2:?}; shift 2 ;;
    --stages) stages=env,build,${2:?}; shift 2 ;;
    --bench-workloads) bench_workloads=${2:?}; shift 2 ;;
    --bench-variants) bench_variants=${2:?}; shift 2 ;;
    --scaling-workloads) scaling_workloads=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ $budget =~ ^[0-9]+$ && $jobs =~ ^[1-9][0-9]*$ && $bench_reps =~ ^[1-9][0-9]*$ ]] ||
  die "--budget, --jobs and --bench-reps take positive integers"
[[ -f $bundle/MANIFEST.json ]] || die "no bundle at $bundle (make one with scripts/gpu_bundle.sh where there is network)"
mkdir -p "$out" || die "cannot create $out"
out=$(cd "$out" && pwd)
start=$SECONDS
declare -a stage_names=() stage_status=() stage_secs=() stage_notes=()

log() { printf '[gpu_check %4ds] %s\n' "$((SECONDS - start))" "$*" | tee -a "$out/progress.log"; }
left() { echo $((budget - (SECONDS - start))); }
record() {  # record NAME STATUS SECONDS NOTE
  stage_names+=("$1"); stage_status+=("$2"); stage_secs+=("$3"); stage_notes+=("$4")
  log "stage $1: $2 ($3 s) $4"
}
# stage NAME MIN_SECONDS FUNCTION: run FUNCTION unless less than MIN_SECONDS are left.
# FUNCTION sets `note` and returns 0 (pass), 77 (skipped) or anything else (fail).
stage() {
  local name=$1 min=$2 fn=$3 t0=$SECONDS rc
  note=
  if [[ ,$stages, != *,$name,* ]]; then
    record "$name" skip 0 "not in --stages"
    return
  fi
  if (($(left) < min)); then
    record "$name" skip 0 "budget spent ($(left) s left, needs ~$min s)"
    return
  fi
  log "stage $name ..."
  "$fn"
  rc=$?
  case $rc in
    0) record "$name" pass $((SECONDS - t0)) "$note" ;;
    77) record "$name" skip $((SECONDS - t0)) "$note" ;;
    *) record "$name" FAIL $((SECONDS - t0)) "$note" ;;
  esac
}

# ---------------------------------------------------------------- environment
B=$(cd "$bundle" && pwd)
multiarch=x86_64-linux-gnu
sysroot=$B/sysroot
export OPAL_PREFIX=$B/openmpi
export PATH=$B/openmpi/bin:$sysroot/usr/bin:$PATH
export PKG_CONFIG_PATH=$sysroot/usr/lib/$multiarch/pkgconfig:$sysroot/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
# Libraries of the bundle's closure only where the machine lacks them: one
# process must not mix the machine's libcrypto with a carried one.
libdir=$build/bundle-libs
mkdir -p "$libdir"
system_has() { ldconfig -p 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }
for f in "$B"/closure/*; do
  [[ -e $f ]] || continue
  system_has "$(basename "$f")" || ln -sfn "$f" "$libdir/$(basename "$f")"
done
export LD_LIBRARY_PATH=$B/openmpi/lib:$sysroot/usr/lib/$multiarch:$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# Open MPI as root in a container: allowed, oversubscription allowed, no cross-memory attach.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export PRTE_MCA_rmaps_default_mapping_policy=:oversubscribe  # Open MPI 5 (the bundle's) maps ranks in PRRTE
export OMPI_MCA_btl_sm_single_copy_mechanism=none OMPI_MCA_btl_vader_single_copy_mechanism=none
export PYTHONUNBUFFERED=1
gpu=0

env_stage() {
  command -v cmake >/dev/null && command -v ninja >/dev/null && command -v c++ >/dev/null ||
    { note="needs cmake, ninja and c++ on PATH"; return 1; }
  "$python" - "$out/env.json" <<'EOF' 2>"$out/env.err" || { note="python/torch: $(tail -1 "$out/env.err")"; return 1; }
import json, os, platform, subprocess, sys
import torch
def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:
        return f"unavailable ({e.__class__.__name__})"
info = {
    "host": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(),
    "os": run(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
    "python": sys.version.split()[0], "torch": torch.__version__, "torch_cuda": torch.version.cuda,
    "cuda_available": torch.cuda.is_available(),
    "nccl": ".".join(map(str, torch.cuda.nccl.version())) if torch.cuda.is_available() else None,
    "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
    "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
    "nvidia_smi": run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version,clocks.max.sm", "--format=csv,noheader"]),
    "nvcc": run(["sh", "-c", "nvcc --version | tail -2 | head -1"]),
    "cxx": run(["sh", "-c", "c++ --version | head -1"]), "cmake": run(["sh", "-c", "cmake --version | head -1"]),
    "torch_cmake_prefix": torch.utils.cmake_prefix_path,
}
json.dump(info, open(sys.argv[1], "w"), indent=1)
print(f"torch {info['torch']} (CUDA {info['torch_cuda']}), GPUs: {info['gpus'] or 'none'}, {info['cpus']} CPUs, {info['os']}")
EOF
  note=$("$python" -c "import json; e=json.load(open('$out/env.json')); print(f\"torch {e['torch']} CUDA {e['torch_cuda']}; GPU: {', '.join(e['gpus']) or 'none visible'}; {e['cpus']} CPUs\")")
  if "$python" -c "import json,sys; sys.exit(not json.load(open('$out/env.json'))['cuda_available'])"; then gpu=1; fi
  ((gpu)) || log "no CUDA GPU visible (torch.cuda.is_available() is False): CUDA tests will skip, GPU benchmarks and CUDA training are skipped"
  return 0
}

# ---------------------------------------------------------------- build
first_targets=(gantry gantry_cuda_tests gantry_cuda_dist_tests)
build_stage() {
  local torch_prefix
  torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)') || { note="no torch"; return 1; }
  # CUDA arch for the build: the visible GPU's, else Hopper (the machines this is made for).
  export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-$("$python" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability() if torch.cuda.is_available() else "9.0")')}
  # nvcc on PATH (torch's CMake config enables CUDA as a language); the architecture named, not detected.
  if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then export PATH=$PATH:/usr/local/cuda/bin; fi
  local cuda_args=()
  command -v nvcc >/dev/null && cuda_args+=(-DCMAKE_CUDA_ARCHITECTURES="${TORCH_CUDA_ARCH_LIST//./}")
  if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$torch_prefix;$sysroot/usr" \
      -DMPI_C_COMPILER="$B/openmpi/bin/mpicc" -DMPIEXEC_EXECUTABLE="$B/openmpi/bin/mpirun" \
      -DHDF5_ROOT="$sysroot/usr/lib/$multiarch/hdf5/serial" -DHDF5_PREFER_PARALLEL=OFF \
      -DGANTRY_PYTHON="$(command -v "$python")" -DCMAKE_POLICY_VERSION_MINIMUM=3.5 "${cuda_args[@]}" \
      >"$out/configure.log" 2>&1 ||
      { note="configure failed: $(grep -m1 -A2 'CMake Error' "$out/configure.log" | tr '\n' ' ' | cut -c1-300)"; return 1; }
  fi
  grep -E 'gantry: (NCCL backend|LibTorch)|Found MPI:|Found HDF5' "$out/configure.log" | sed 's/^/  /' | tee -a "$out/progress.log"
  # -k 0: every compile error in one go (a LibTorch other than the pinned one may differ in several places).
  cmake --build "$build" -j "$jobs" --target "${first_targets[@]}" -- -k 0 >"$out/build.log" 2>&1 ||
    { note="build failed: $(grep -m1 -E 'error' "$out/build.log" | cut -c1-300)"; return 1; }
  note="NCCL backend $(grep -q 'GANTRY_HAVE_NCCL:INTERNAL=ON\|gantry: NCCL backend ON' "$out/configure.log" "$build/CMakeCache.txt" 2>/dev/null && echo on || echo OFF)"
}

version_stage() {
  "$build/gantry" version >"$out/version.txt" 2>&1 || { note="$(tail -1 "$out/version.txt")"; return 1; }
  note=$(tr '\n' ' ' <"$out/version.txt" | cut -c1-200)
}

# gtest_counts FILE.json: "P passed, S skipped, F failed"
gtest_counts() {
  "$python" - "$1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
tests = [t for s in r["testsuites"] for t in s["testsuite"]]
skipped = sum(t.get("result") == "SKIPPED" for t in tests)
failed = sum(bool(t.get("failures")) for t in tests)
print(f"{len(tests) - skipped - failed} passed, {skipped} skipped, {failed} failed")
EOF
}

cuda_stage() {
  local rc=0 a b c
  timeout 600 "$build/tests/gantry_cuda_tests" --gtest_output="json:$out/cuda_tests.json" >"$out/cuda_tests.log" 2>&1 || rc=1
  a=$(gtest_counts "$out/cuda_tests.json" 2>/dev/null || echo "no report")
  GANTRY_DEVICE=auto GANTRY_COLLECTIVE_TIMEOUT_S=60 timeout 300 mpirun -np 1 "$build/tests/gantry_cuda_dist_tests" \
    --gtest_filter=-NcclAbort.* --gtest_output="json:$out/cuda_dist_tests.json" >"$out/cuda_dist_tests.log" 2>&1 || rc=1
  b=$(gtest_counts "$out/cuda_dist_tests.json" 2>/dev/null || echo "no report")
  # The abort path alone, with its own timeout: a hang there must not eat the budget.
  GANTRY_DEVICE=auto timeout 90 mpirun -np 1 "$build/tests/gantry_cuda_dist_tests" --gtest_filter=NcclAbort.* \
    --gtest_output="json:$out/cuda_abort_test.json" >"$out/cuda_abort_test.log" 2>&1 || rc=1
  c=$(gtest_counts "$out/cuda_abort_test.json" 2>/dev/null || echo "no report (timed out?)")
  note="parity: $a; NCCL: $b; abort: $c"
  ((rc == 0)) || return 1
  ((gpu)) || { note="$note (no GPU: skipped)"; return 77; }
}

train_stage() {
  ((gpu)) || { note="no CUDA GPU visible"; return 77; }
  local secs=$(($(left) - 10))
  ((secs > 60)) || secs=60
  timeout "$secs" bash "$repo/tests/cuda/cuda_train.sh" "$build/gantry" "$out/cuda_train.json" >"$out/cuda_train.log" 2>&1 ||
    { note="$(grep -m1 FAIL "$out/cuda_train.log" | cut -c1-300)"; return 1; }
  note=$(tail -1 "$out/cuda_train.log" | cut -c1-200)
}

bench_stage() {
  ((gpu)) || { note="no CUDA GPU visible"; return 77; }
  local secs=$(($(left) - 150))  # leave time for the CUDA training stage
  ((secs > 60)) || secs=60
  local pick=()
  [[ -n $bench_workloads ]] && pick+=(--workloads "$bench_workloads")
  [[ -n $bench_variants ]] && pick+=(--variants "$bench_variants")
  timeout $((secs + 120)) "$python" "$repo/bench/gpu_bench.py" --build "$build" --python "$python" "${pick[@]}" \
    --reps "$bench_reps" --deadline "$secs" --out "$out/gpu_bench.json" --work "$build/gpu_bench" 2>"$out/gpu_bench.log"
  local rc=$?
  [[ -s $out/gpu_bench.json ]] || { note="no results (exit $rc): $(tail -1 "$out/gpu_bench.log")"; return 1; }
  note=$("$python" "$repo/bench/gpu_bench.py" --summarize "$out/gpu_bench.json" | head -1)
  ((rc == 0)) || { note="exit $rc (partial results kept): $note"; return 1; }
}

# One rank on the GPU, configs as configured (fp32; fp32 at 8 images per D
# batch, the small-batch end of strong scaling; bf16 + channels_last): s/kimg, the
# step's split and each bucket's ready time in backward, in 1 MiB buckets: the
# fine compute profile that bench/scaling_model.py re-buckets and projects
# clusters from.
scaling_stage() {
  ((gpu)) || { note="no CUDA GPU visible"; return 77; }
  local rc=0 label extra
  for label in gpu-fp32 gpu-fp32-b8 gpu-bf16cl; do
    extra=()
    [[ $label == gpu-bf16cl ]] && extra=(--set 'train.precision="bf16"' --set train.channels_last=true)
    [[ $label == gpu-fp32-b8 ]] && extra=(--batch 8 --workloads resnet128_pgn,resnet256_pgn)
    (($(left) > 90)) || { log "scaling: budget spent before $label"; break; }
    timeout $(($(left) - 30)) "$python" "$repo/bench/scaling.py" --build "$build" --device cuda --as-configured \
      --ranks 1 --modes weak --overlap on --workloads "$scaling_workloads" --steps 4 --warmup 2 --label "$label" \
      --bucket-caps 1 --launch "mpirun --bind-to none" "${extra[@]}" --timeout 400 --out "$out/scaling_gpu.json" >>"$out/scaling.log" 2>&1 || rc=1
  done
  [[ -s $out/scaling_gpu.json ]] || { note="no results: $(tail -1 "$out/scaling.log")"; return 1; }
  note=$("$python" "$repo/bench/scaling.py" --summarize "$out/scaling_gpu.json" | awk 'NR>1 && $1 ~ /^gpu/ {printf "%s %s b%s %s s/kimg; ", $1, $2, $4, $9}')
  return $rc
}

ctest_stage() {
  cmake --build "$build" -j "$jobs" >>"$out/build.log" 2>&1 ||
    { note="build of the remaining targets failed: $(grep -m1 -E 'error' "$out/build.log" | cut -c1-300)"; return 1; }
  local secs=$(($(left) - 20)) par=$((jobs / 4))
  ((par >= 1)) || par=1
  ((secs > 30)) || secs=30
  # The CPU suite as in CI (GANTRY_DEVICE=cpu is in every test's environment); no Slurm here.
  timeout "$secs" ctest --test-dir "$build" -j "$par" --timeout 600 -E 'slurm|cuda' \
    --output-junit "$out/ctest.xml" >"$out/ctest.log" 2>&1
  local rc=$?
  note=$(grep -E 'tests passed|tests failed' "$out/ctest.log" | tail -1)
  ((rc == 124)) && note="stopped at the budget: $note"
  return $rc
}

stage env 10 env_stage
stage build 120 build_stage
if [[ ${stage_status[1]} == pass ]]; then
  stage version 5 version_stage
  stage cuda 60 cuda_stage
  stage scaling 90 scaling_stage
  stage bench 120 bench_stage
  stage train 40 train_stage
  stage ctest 120 ctest_stage
fi

# ---------------------------------------------------------------- summary
{
  echo "gantry gpu_check: $(date -u +%FT%TZ), $((SECONDS - start)) s of a $budget s budget"
  [[ -f $out/env.json ]] && "$python" -c "import json; e=json.load(open('$out/env.json')); print(f\"machine: {e['gpus'] or 'no GPU'} | {e['cpus']} CPUs | {e['os']} | torch {e['torch']} CUDA {e['torch_cuda']} NCCL {e['nccl']} | {e['nvcc']}\")"
  for i in "${!stage_names[@]}"; do
    printf '  %-8s %-5s %5ss  %s\n' "${stage_names[$i]}" "${stage_status[$i]}" "${stage_secs[$i]}" "${stage_notes[$i]}"
  done
  if [[ -s $out/gpu_bench.json ]]; then
    echo "GPU benchmarks (img/s; gantry / PyTorch eager on the same GPU):"
    "$python" "$repo/bench/gpu_bench.py" --summarize "$out/gpu_bench.json" | sed 's/^/  /'
  fi
  echo "results: $out"
} | tee "$out/summary.txt"
"$python" - "$out/summary.json" "${#stage_names[@]}" "${stage_names[@]}" "${stage_status[@]}" "${stage_secs[@]}" <<'EOF'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
a = sys.argv[3:]
json.dump({"stages": [{"name": a[i], "status": a[n + i], "seconds": int(a[2 * n + i])} for i in range(n)]},
          open(path, "w"), indent=1)
EOF
for s in "${stage_status[@]}"; do [[ $s == FAIL ]] && exit 1; done
exit 0
