#!/usr/bin/env bash
# Start a real single-node Slurm (munged, slurmctld, slurmd on localhost) for
# the batch-script tests, configured from this machine, if none answers yet.
# Idempotent; needs root (CI and the dev machines run as root). Exit 0 when
# `sinfo` answers afterwards.
set -euo pipefail
sinfo -h >/dev/null 2>&1 && exit 0
[[ $(id -u) == 0 ]] || { echo "slurm_local: needs root" >&2; exit 1; }
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /run/munge
chown munge:munge /run/munge
if [[ ! -f /etc/munge/munge.key ]]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
fi
if [[ ! -f /etc/slurm/slurm.conf ]]; then
  mem=$(awk '/MemTotal/ {print int($2 / 1024 / 2)}' /proc/meminfo)
  cat >/etc/slurm/slurm.conf <<CONF
# Written by gantry's scripts/slurm_local.sh: one node, localhost.
ClusterName=gantry
SlurmctldHost=localhost
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmUser=root
ReturnToService=2
MpiDefault=pmix
KillOnBadExit=1
NodeName=localhost CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
fi
pgrep -x munged >/dev/null || su -s /bin/sh munge -c /usr/sbin/munged
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 1 50); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE 'idle|mix|alloc'; then exit 0; fi
  sleep 0.2
done
echo "slurm_local: Slurm did not come up" >&2
exit 1
