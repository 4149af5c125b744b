#!/usr/bin/env bash
# Simulated hosts on one machine: Linux network namespaces joined by veth pairs
# to a bridge in a switch namespace, each host's link shaped with tc (tbf, both
# directions), Open MPI forced onto TCP between them and launched by mpirun with
# an rsh agent that enters the host's namespace (and its own UTS namespace, so
# each "host" has its own hostname). Every address lives inside namespaces this
# script creates (10.231.0.0/24); nothing in the root namespace changes.
#
#   scripts/netns_cluster.sh up [--hosts N] [--rate 10gbit|1gbit|none]   (idempotent; re-shapes)
#   scripts/netns_cluster.sh down                                        (idempotent)
#   scripts/netns_cluster.sh status                                      (exit 1 when not up)
#   scripts/netns_cluster.sh check                                       (exit 77 when namespaces are unavailable)
#   scripts/netns_cluster.sh mpirun -n N PROGRAM ARGS...                 (ranks round-robin over the hosts)
#   scripts/netns_cluster.sh agent HOST COMMAND...                       (mpirun's launch agent)
#
# Root only. mpirun runs in a head namespace (gantry-nh, unshaped link); host i
# is namespace gantry-n<i> (hostname gantry-n<i>, address 10.231.0.<i+1>).
# GANTRY_NETNS_PREFIX, GANTRY_NETNS_NET (a /24's first three octets) and
# GANTRY_NETNS_STATE name another, independent set (tests use their own).
set -euo pipefail
self=$(readlink -f "${BASH_SOURCE[0]}")
# A second, private set (a test's) comes from other values of these.
prefix=${GANTRY_NETNS_PREFIX:-gantry-n}
net=${GANTRY_NETNS_NET:-10.231.0}
state=${GANTRY_NETNS_STATE:-/run/gantry-netns}
sw=${prefix}sw
head=${prefix}h
bridge=gbr0
die() { printf 'netns_cluster: %s\n' "$*" >&2; exit 2; }

need_root() {
  [[ $(id -u) == 0 ]] || die "needs root (network namespaces, veth, tc)"
  command -v ip >/dev/null && command -v tc >/dev/null || die "needs iproute2 (ip, tc)"
}

# Whether namespaces, veth and tbf work here (a scratch namespace pair, removed again).
check() {
  [[ $(id -u) == 0 ]] || { echo "netns_cluster: not root: simulated hosts unavailable"; return 77; }
  command -v ip >/dev/null && command -v tc >/dev/null && command -v unshare >/dev/null ||
    { echo "netns_cluster: ip/tc/unshare missing: simulated hosts unavailable"; return 77; }
  local t=${prefix}probe$$ ok=0
  if ip netns add "$t" 2>/dev/null; then
    if ip -n "$t" link add pa type veth peer name pb 2>/dev/null &&
      ip netns exec "$t" tc qdisc add dev pa root tbf rate 1gbit burst 256kb latency 50ms 2>/dev/null &&
      ip netns exec "$t" unshare --uts true 2>/dev/null; then
      ok=1
    fi
    ip netns del "$t" 2>/dev/null || true
  fi
  ((ok)) || { echo "netns_cluster: this kernel/container refuses netns, veth, tbf or UTS namespaces: simulated hosts unavailable"; return 77; }
  return 0
}

hosts_up() { [[ -f $state/hosts ]] && cat "$state/hosts" || echo 0; }

# tbf on dev (in namespace ns) at rate, or no qdisc for "none".
shape() {
  local ns=$1 dev=$2 rate=$3
  ip netns exec "$ns" tc qdisc del dev "$dev" root 2>/dev/null || true
  [[ $rate == none ]] && return
  # Burst: at least one GSO super-packet (64 KiB) and ~2 ms at the rate, so that
  # the bucket never starves the link at full rate yet short bursts cannot beat it.
  local bits
  case $rate in
    *gbit) bits=$(( ${rate%gbit} * 1000000000 )) ;;
    *mbit) bits=$(( ${rate%mbit} * 1000000 )) ;;
    *) die "--rate takes e.g. 10gbit, 1gbit, 500mbit or none, not '$rate'" ;;
  esac
  local burst=$(( bits / 8 / 500 ))
  ((burst >= 262144)) || burst=262144
  ip netns exec "$ns" tc qdisc add dev "$dev" root tbf rate "$rate" burst "$burst" latency 100ms
}

link_ns() {  # link_ns NS INDEX ADDRESS: veth NS:eth0 <-> sw:<port>, on the bridge
  local ns=$1 port=$2 addr=$3
  ip netns list | grep -qw "^$ns" || ip netns add "$ns"
  ip -n "$ns" link set lo up
  if ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
    ip -n "$sw" link add "$port" type veth peer name eth0 netns "$ns"
    ip -n "$sw" link set "$port" master "$bridge" up
    ip -n "$ns" addr add "$addr/24" dev eth0
  fi
  ip -n "$ns" link set eth0 up
  mkdir -p "/etc/netns/$ns"
  cp "$state/etc-hosts" "/etc/netns/$ns/hosts"
}

up() {
  local n=2 rate=10gbit
  while (($#)); do
    case $1 in
      --hosts) n=${2:?}; shift 2 ;;
      --rate) rate=${2:?}; shift 2 ;;
      *) die "up: unknown option '$1'" ;;
    esac
  done
  [[ $n =~ ^[1-9][0-9]?$ ]] && ((n <= 64)) || die "--hosts takes 1..64"
  need_root
  if (($(hosts_up) != 0 && $(hosts_up) != n)); then down; fi
  mkdir -p "$state"
  { echo "127.0.0.1 localhost"; for ((i = 0; i < n; i++)); do echo "$net.$((i + 1)) $prefix$i"; done
    echo "$net.254 $head"; } > "$state/etc-hosts"
  ip netns list | grep -qw "^$sw" || ip netns add "$sw"
  ip -n "$sw" link show "$bridge" >/dev/null 2>&1 || ip -n "$sw" link add "$bridge" type bridge
  ip -n "$sw" link set "$bridge" up
  ip -n "$sw" link set lo up
  for ((i = 0; i < n; i++)); do
    link_ns "$prefix$i" "p$i" "$net.$((i + 1))"
    shape "$prefix$i" eth0 "$rate"   # host → switch
    shape "$sw" "p$i" "$rate"        # switch → host
  done
  link_ns "$head" ph "$net.254"
  for ((i = 0; i < n; i++)); do echo "$prefix$i slots=64"; done > "$state/hostfile"
  echo "$n" > "$state/hosts"
  echo "$rate" > "$state/rate"
  # Every host answers the head before anyone relies on it: a TCP connect to a
  # closed port is refused at once when the host is reachable (no ping needed).
  for ((i = 0; i < n; i++)); do
    local reply
    reply=$(ip netns exec "$head" timeout 3 bash -c "exec 3<>/dev/tcp/$net.$((i + 1))/9" 2>&1 || true)
    [[ $reply == *refused* ]] || die "host $prefix$i does not answer on $net.$((i + 1)) (${reply:-timeout})"
  done
  echo "netns_cluster: $n hosts up (${prefix}0..$prefix$((n - 1)), $net.1..$n), links $rate"
}

down() {
  need_root
  for ns in $(ip netns list | awk '{print $1}' | grep "^$prefix" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns"
    rm -rf "/etc/netns/$ns"
  done
  rm -rf "$state"
  echo "netns_cluster: down"
}

status() {
  local n
  n=$(hosts_up)
  ((n > 0)) || { echo "netns_cluster: not up"; return 1; }
  echo "netns_cluster: $n hosts, links $(cat "$state/rate")"
  for ((i = 0; i < n; i++)); do
    printf '  %s %s %s\n' "$prefix$i" "$(ip -n "$prefix$i" -4 -br addr show eth0 | awk '{print $3}')" \
      "$(ip netns exec "$prefix$i" tc qdisc show dev eth0 | head -1)"
  done
}

# mpirun's rsh agent: `agent HOST COMMAND...` runs COMMAND (one shell line, as
# ssh would) in HOST's network namespace with HOST as its hostname.
agent() {
  local host=$1
  shift
  [[ $host =~ ^$prefix[0-9]+$ ]] || die "agent: unknown host '$host'"
  exec ip netns exec "$host" unshare --uts sh -c 'hostname "$0"; exec sh -c "$1"' "$host" "$*"
}

run_mpirun() {
  local n=
  if [[ ${1:-} == -n || ${1:-} == -np ]]; then n=$2; shift 2; fi
  [[ $n =~ ^[1-9][0-9]*$ ]] || die "mpirun: -n N is required"
  (($# > 0)) || die "mpirun: no program"
  need_root
  (($(hosts_up) > 0)) || die "mpirun: no simulated hosts (scripts/netns_cluster.sh up)"
  local args=(-np "$n" --hostfile "$state/hostfile" --map-by node --bind-to none --allow-run-as-root
    --mca plm_rsh_agent "$self agent" --mca plm_rsh_no_tree_spawn 1
    --mca btl tcp,self --mca oob_tcp_if_include "$net.0/24" --mca btl_tcp_if_include "$net.0/24"
    -x PATH)
  [[ -n ${LD_LIBRARY_PATH:-} ]] && args+=(-x LD_LIBRARY_PATH)
  for v in $(env | grep -o '^\(GANTRY\|OMP\|CUDA\|NCCL\)_[A-Z_]*' || true); do args+=(-x "$v"); done
  # The head namespace runs mpirun only; the working directory is the same file system.
  exec ip netns exec "$head" mpirun "${args[@]}" --wdir "$PWD" "$@"
}

cmd=${1:-}
shift || true
case $cmd in
  up) up "$@" ;;
  down) down ;;
  status) status ;;
  check) check ;;
  agent) agent "$@" ;;
  mpirun) run_mpirun "$@" ;;
  *) sed -n '2,19p' "$0"; [[ -z $cmd || $cmd == -h || $cmd == --help ]] && exit 0; exit 2 ;;
esac
