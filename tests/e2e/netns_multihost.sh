#!/usr/bin/env bash
# Multi-host training over TCP on simulated hosts (scripts/netns_cluster.sh:
# network namespaces, veth, a bridge, tbf-shaped 1 Gbit/s links; Open MPI on
# its TCP transport only): 2 hosts × 1 rank train to the same parameters, bit
# for bit, as `mpirun -np 2` on shared memory, and the gradients really
# crossed the shaped links. Skipped (77) where namespaces are unavailable.
source "$(dirname "$0")/lib.sh"
NETNS=$(cd "$(dirname "$0")/../../scripts" && pwd)/netns_cluster.sh
export GANTRY_NETNS_PREFIX=gtest$$- GANTRY_NETNS_NET=10.232.$((RANDOM % 200 + 20)) GANTRY_NETNS_STATE=$WORK/netns
"$NETNS" check || exit 77
trap '"$NETNS" down >/dev/null 2>&1; cleanup' EXIT
cd "$WORK"
"$NETNS" up --hosts 2 --rate 1gbit >netns.log 2>&1 || fail "netns_cluster up: $(tail -1 netns.log)"

# The launcher puts one rank on each simulated host, each with its own hostname.
hosts=$(timeout 60 "$NETNS" mpirun -n 2 sh -c 'hostname' 2>/dev/null | sort -u | tr '\n' ' ')
[[ $hosts == "${GANTRY_NETNS_PREFIX}0 ${GANTRY_NETNS_PREFIX}1 " ]] || fail "ranks ran on '$hosts'"

"$GANTRY" synth --shape 1,28,28 --count 256 --seed 3 --out d.h5 --quiet >/dev/null || fail "synth"
{ tiny_dcgan_toml; cat <<'TOML'; } >tiny.toml
[train]
steps = 4
loss = "hinge"
checkpoint_every = 4
seed = 5
bucket_cap_mb = 0.01
[log]
every = 1
sample_every = 100
sample_count = 4
TOML
export GANTRY_THREADS=1
sent_before=$(ip netns exec "${GANTRY_NETNS_PREFIX}1" cat /sys/class/net/eth0/statistics/tx_bytes)
timeout 300 "$NETNS" mpirun -n 2 "$GANTRY" train --config tiny.toml --run-dir hosts --quiet --set log.timing=true \
  >hosts.log 2>&1 || fail "training on 2 simulated hosts"
sent=$(( $(ip netns exec "${GANTRY_NETNS_PREFIX}1" cat /sys/class/net/eth0/statistics/tx_bytes) - sent_before ))
timeout 300 mpirun -np 2 "$GANTRY" train --config tiny.toml --run-dir shm --quiet >shm.log 2>&1 || fail "training on shared memory"
"$GANTRY" diff hosts/ckpt-000000004.pt shm/ckpt-000000004.pt --tol 0 >diff.json 2>&1 ||
  fail "2 hosts over TCP differ from shared memory: $(head -c 600 diff.json)"

# Host 1 sent at least half of 4 steps of G and D float32 gradients over its link
# (a 2-rank all-reduce sends each rank's whole buffer once, ring or recursive doubling).
numel=$("$GANTRY" inspect --checkpoint hosts/ckpt-000000004.pt 2>/dev/null | python3 -c '
import json, math, sys
t = json.load(sys.stdin)["tensors"]
print(sum(math.prod(v["shape"]) for k, v in t.items() if k.startswith(("G/", "D/"))))') || fail "inspect"
((numel > 1000 && sent >= numel * 4 * 4 / 2)) || fail "host 1 sent $sent bytes; 4 steps of $numel float32 gradients need more"
# log.timing wrote per-bucket timing with several buckets (bucket_cap_mb 0.01).
grep -q '"bucket_ready_s"' hosts/timing.jsonl || fail "no timing.jsonl"
echo "netns_multihost: 2 simulated hosts over 1 Gbit/s TCP == shared memory (host 1 sent $sent bytes)"
