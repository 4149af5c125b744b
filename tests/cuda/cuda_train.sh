#!/usr/bin/env bash
# Every config family trains a few steps on CUDA (finite losses, peak_gpu_mb
# logged, checkpoints written and verified), a CUDA checkpoint resumes on the
# CPU and a CPU checkpoint resumes on CUDA, and the pinned, non-blocking
# loader feeds CUDA the same batches as the CPU path (same parameters after
# one step up to device rounding). Run by scripts/gpu_check.sh on a GPU machine:
#   tests/cuda/cuda_train.sh path/to/gantry [RESULTS.json]
# Skips (exit 77) when no GPU is visible. CUDA_TRAIN_AS=cpu runs the "CUDA"
# side on the CPU instead: a check of this script itself on a machine without a
# GPU; CUDA_TRAIN_ONLY="name ..." limits the families.
source "$(dirname "$0")/../e2e/lib.sh"
RESULTS=${2:-/dev/null}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
GPU=${CUDA_TRAIN_AS:-cuda}
if [[ $GPU == cuda ]]; then
  command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU' ||
    { echo "SKIP: no CUDA GPU visible (nvidia-smi -L lists none)"; exit 77; }
fi
cd "$WORK"
export GANTRY_COLLECTIVE_TIMEOUT_S=120
# run DEVICE RUN_DIR CONFIG [--set ...]: one rank on DEVICE.
run() {
  local device=$1 dir=$2 config=$3
  shift 3
  GANTRY_DEVICE=$device timeout 600 mpirun -np 1 "$GANTRY" train --config "$config" --run-dir "$dir" --quiet \
    --set log.every=1 --set log.sample_every=1000000 --set log.sample_count=16 "$@" >"$WORK/$dir.log" 2>&1
}
# check_run RUN_DIR STEPS: finite losses every step, peak_gpu_mb logged, the last checkpoint verifies.
check_run() {
  local dir=$1 steps=$2
  python3 - "$dir/metrics.jsonl" "$steps" <<'EOF' || fail "$dir: metrics"
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
steps = [r for r in rows if "loss_d" in r]
assert steps and steps[-1]["step"] == int(sys.argv[2]), f"last step {steps[-1]['step'] if steps else None}"
for r in steps:
    for k, v in r.items():
        if k.startswith("loss") and not math.isfinite(v):
            sys.exit(f"step {r['step']}: {k} = {v}")
EOF
  [[ -s $(printf '%s/ckpt-%09d.pt' "$dir" "$steps") ]] || fail "$dir: no checkpoint at step $steps"
  "$GANTRY" inspect --checkpoint "$(printf '%s/ckpt-%09d.pt' "$dir" "$steps")" >"$WORK/inspect.json" 2>&1 ||
    fail "$dir: the checkpoint does not verify: $(head -c 300 "$WORK/inspect.json")"
}
peak_mb() { python3 -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if 'peak_gpu_mb' in l]; print(r[-1]['peak_gpu_mb'] if r else -1)" "$1/metrics.jsonl"; }

"$GANTRY" synth --shape 1,28,28 --count 512 --seed 1 --out g28.h5 --quiet >/dev/null || fail "synth 28"
"$GANTRY" synth --shape 3,32,32 --count 512 --seed 2 --out c32.h5 --quiet >/dev/null || fail "synth 32"
"$GANTRY" synth --shape 3,128,128 --count 128 --seed 3 --out c128.h5 --quiet >/dev/null || fail "synth 128"

# First what moves between devices (checkpoints, batches), then each family.
# CUDA -> CPU and CPU -> CUDA resume: 2 steps on one device, then to 4 on the other.
dc=("$HERE/configs/fmnist_dcgan.toml" --set 'data.path="g28.h5"' --set train.checkpoint_every=2)
run "$GPU" to_cpu "${dc[@]}" --set train.steps=2 || fail "first half on CUDA"
run cpu to_cpu "${dc[@]}" --set train.steps=4 || fail "CUDA checkpoint resumed on the CPU"
check_run to_cpu 4
once() {  # the resumed run continued at step 3: steps 1..4 logged once each (no restart from 0)
  python3 -c "import json,sys; s=[json.loads(l)['step'] for l in open(sys.argv[1]) if 'loss_d' in l]; sys.exit(s != [1,2,3,4])" \
    "$1/metrics.jsonl" || fail "$1: logged steps are not 1..4 once each: $(grep -o '"step":[0-9]*' "$1/metrics.jsonl" | tr '\n' ' ')"
}
once to_cpu
run cpu to_cuda "${dc[@]}" --set train.steps=2 || fail "first half on CPU"
run "$GPU" to_cuda "${dc[@]}" --set train.steps=4 || fail "CPU checkpoint resumed on CUDA"
check_run to_cuda 4
once to_cuda
echo "ok: checkpoints move between CUDA and CPU"

# The loader on CUDA (pinned, non_blocking) feeds the same batches as on the CPU: one SGD-like
# step from the same weights gives the same parameters up to device rounding (fp32, TF32 off).
one=("$HERE/configs/fmnist_dcgan.toml" --set 'data.path="g28.h5"' --set train.steps=1 --set train.checkpoint_every=1
     --set data.hflip=true --set data.shift=2)
NVIDIA_TF32_OVERRIDE=0 run "$GPU" same_gpu "${one[@]}" || fail "one step on CUDA"
run cpu same_cpu "${one[@]}" || fail "one step on CPU"
"$GANTRY" diff same_gpu/ckpt-000000001.pt same_cpu/ckpt-000000001.pt --tol 1e-3 >"$WORK/diff.json" 2>&1 ||
  fail "one step on CUDA and CPU differ beyond 1e-3: $(head -c 400 "$WORK/diff.json")"
echo "ok: the CUDA loader's batches match the CPU path (one step, diff within 1e-3)"

# Each family, 4 steps on CUDA, checkpoints at 2 and 4.
declare -A family=(
  [dcgan]="configs/fmnist_dcgan.toml data.path=\"g28.h5\""
  [dcgan_direal]="configs/fmnist_dcgan_sn_direal.toml data.path=\"g28.h5\""
  [sgan_split]="configs/fmnist_sgan_split.toml data.path=\"g28.h5\""
  [improved]="configs/improved_techniques.toml data.path=\"c32.h5\""
  [sngan_gn]="configs/sngan_cnn_gn.toml data.path=\"c32.h5\""
  [sngan_pgn]="configs/sngan_cnn_pgn.toml data.path=\"c32.h5\""
  [resnet128_pgn]="configs/celebahq128_resnet_pgn.toml data.path=\"c128.h5\" data.batch=16 train.g_batch=32 train.n_dis=2"
  [ring8_mlp]="configs/ring8_mlp.toml"
)
# The script's own check on a CPU: ResNet-128 at a CPU's size.
[[ $GPU == cpu ]] && family[resnet128_pgn]="configs/celebahq128_resnet_pgn.toml data.path=\"c128.h5\" data.batch=2 train.g_batch=4 train.n_dis=1"
declare -A peaks=()
for name in ${CUDA_TRAIN_ONLY:-dcgan dcgan_direal sgan_split improved sngan_gn sngan_pgn resnet128_pgn ring8_mlp}; do
  read -r config sets <<<"${family[$name]}"
  args=()
  for s in $sets; do args+=(--set "$s"); done
  run "$GPU" "$name" "$HERE/$config" "${args[@]}" --set train.steps=4 --set train.checkpoint_every=2 ||
    fail "$name on CUDA"
  check_run "$name" 4
  peaks[$name]=$(peak_mb "$name")
  [[ ${peaks[$name]} != -1 || $GPU == cpu ]] || fail "$name: no peak_gpu_mb in metrics.jsonl"
  echo "ok: $name trains on CUDA (peak ${peaks[$name]} MB)"
done

python3 - "$RESULTS" <<EOF
import json, sys
json.dump({"families": {$(for k in "${!peaks[@]}"; do printf '"%s": {"peak_gpu_mb": %s}, ' "$k" "${peaks[$k]}"; done)},
           "resume_cuda_cpu": True, "loader_same_batches": True}, open(sys.argv[1], "w"), indent=1)
EOF
echo "cuda_train: ${#peaks[@]} config families trained on CUDA; resume both ways; loader parity"
