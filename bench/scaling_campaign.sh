#!/usr/bin/env bash
# The CPU scaling campaign behind docs/SCALING.md, resumable (bench/scaling.py
# keeps every finished run; rerun this script to continue after a stop):
#   1. shared memory: dcgan64 (1/2/4 ranks) and resnet128_pgn (1/2; CPU-sized), strong and
#      weak, overlap on/off, 25 MiB buckets; 1 MiB-bucket profiles at 2 ranks for the model;
#   2. 2 simulated hosts (scripts/netns_cluster.sh) on 10 Gbit/s and on 1 Gbit/s links:
#      the same workloads at 2 ranks, overlap on/off, buckets 1 (dcgan64), 4, 25 MiB;
#   3. the link sweeps (bench_grad_sync --sweep, fused vs raw) on each;
#   4. the model: calibration, validation against every multi-host run, bucket caps.
#   bench/scaling_campaign.sh [BUILD=build] [OUT=runs/scaling]
# Root for the simulated hosts (skipped otherwise, with a line). ~1 h on 2 cores.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
out=${2:-$repo/runs/scaling}
mkdir -p "$out"
out=$(cd "$out" && pwd)
py=${GANTRY_PYTHON:-$HOME/.local/share/gantry/venv/bin/python}
netns=$repo/scripts/netns_cluster.sh
cd "$repo"
scale() { "$py" bench/scaling.py --build "$build" "$@"; }
log() { printf '[campaign %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

log "shared memory"
# The scaling grid at the default 25 MiB buckets...
scale --label shm --workloads dcgan64 --ranks 1,2,4 --modes weak,strong --overlap on,off \
  --bucket-caps 25 --steps 6 --warmup 2 --sync-bench --out "$out/shm.json"
scale --label shm --workloads resnet128_pgn --ranks 1,2 --modes weak,strong --overlap on \
  --bucket-caps 25 --steps 4 --warmup 1 --out "$out/shm.json"
# ...and the fine (1 MiB) profiles at 2 ranks the model re-buckets for the multi-host runs.
scale --label shm --workloads dcgan64 --ranks 2 --modes weak --overlap on,off --bucket-caps 1 --steps 6 --warmup 2 \
  --out "$out/shm.json"
scale --label shm --workloads resnet128_pgn --ranks 2 --modes weak --overlap on,off --bucket-caps 1 --steps 4 \
  --warmup 1 --out "$out/shm.json"

if "$netns" check >/dev/null; then
  for rate in 10gbit 1gbit; do
    log "2 simulated hosts, $rate links"
    "$netns" up --hosts 2 --rate "$rate" || exit 1
    scale --label "netns-$rate" --hosts 2 --launch "$netns mpirun" --workloads dcgan64 --ranks 2 \
      --modes weak --overlap on,off --bucket-caps 1,4,25 --steps 6 --warmup 2 --sync-bench --out "$out/netns-$rate.json"
    scale --label "netns-$rate" --hosts 2 --launch "$netns mpirun" --workloads resnet128_pgn --ranks 2 \
      --modes weak --overlap on,off --bucket-caps 4,25 --steps 4 --warmup 1 --out "$out/netns-$rate.json"
  done
  "$netns" down
else
  log "simulated hosts unavailable here: $("$netns" check)"
fi

log "model"
sweep() {  # the link sweep of a results file, as its own JSON (what scaling_model.py reads)
  "$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps(next(iter(r["sync_bench"].values()))))' "$1" >"$2"
}
args=()
for rate in 10gbit 1gbit; do
  [[ -f $out/netns-$rate.json ]] || continue
  sweep "$out/netns-$rate.json" "$out/sweep-$rate.json" && args+=("netns-$rate=$out/sweep-$rate.json")
done
sweep "$out/shm.json" "$out/sweep-shm.json"
{
  for f in "$out"/sweep-*.json; do "$py" bench/scaling_model.py calibrate "$f"; done
  if ((${#args[@]})); then
    "$py" bench/scaling_model.py validate --profile "$out/shm.json" --measured "$out/netns-10gbit.json" --sweeps "${args[@]}"
    "$py" bench/scaling_model.py validate --profile "$out/shm.json" --measured "$out/netns-1gbit.json" --sweeps "${args[@]}"
    for rate in 10gbit 1gbit; do
      "$py" bench/scaling_model.py caps --profile "$out/shm.json" --workload resnet128_pgn --sweep "$out/sweep-$rate.json"
    done
  fi
} | tee "$out/model.txt"
"$py" bench/scaling.py --plot "$out"/shm.json "$out"/netns-*.json --png "$out/scaling.png"
log "done: $out (shm.json, netns-*.json, model.txt, scaling.png)"
