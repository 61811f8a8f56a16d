#!/usr/bin/env bash
# A single-node SLURM on this machine, for the cluster tests (tests/test_reproduce_slurm.py).
#
#   .ci/slurm.sh          install (Debian packages slurmctld, slurmd, slurm-client, munge; root and apt) when
#                         missing, write a one-node slurm.conf, start munged, slurmctld and slurmd
#   .ci/slurm.sh stop     stop the daemons this script started
#
# The node is this host with all its cores, in one partition "debug" (the default, no time limit); no
# accounting database. An existing slurm.conf that this script did not write is never replaced: the
# script stops and says so. Exit 0 once `sinfo` shows the node idle; any failure exits non-zero with
# the reason, and the SLURM tests then skip.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# written by stablenets .ci/slurm.sh"
LOGS=/var/log/slurm

stop() {
    for pid in /run/slurmd.pid /run/slurmctld.pid; do
        [ -s "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
    done
}

if [ "${1:-}" = "stop" ]; then
    stop
    exit 0
fi

if sinfo -h >/dev/null 2>&1; then
    echo "slurm: a cluster is already up"
    exit 0
fi
[ "$(id -u)" = 0 ] || { echo "slurm: needs root to install and start the daemons"; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null \
        || ! command -v sbatch >/dev/null; then
    echo "slurm: installing slurmctld, slurmd, slurm-client and munge"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
fi

# munge: a key, then the daemon (as its own user).
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0400 /etc/munge/munge.key
if ! munge -n >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
fi
munge -n | unmunge >/dev/null

# slurm.conf for one node: this host, its cores and memory.
NODE=$(hostname -s)
CPUS=$(nproc)
MEM=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    echo "slurm: $CONF exists and was not written by this script; not replacing it"
    exit 1
fi
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd "$LOGS"
cat > "$CONF" <<EOF
$MARK
ClusterName=stablenets
SlurmctldHost=$NODE
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=600
SlurmdTimeout=30
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

stop
sleep 1
/usr/sbin/slurmctld
/usr/sbin/slurmd
for _ in $(seq 60); do
    state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
    [ "$state" = idle ] && { echo "slurm: node $NODE up with $CPUS cores in partition debug"; exit 0; }
    case "$state" in down*|drain*|unknown*) scontrol update nodename="$NODE" state=resume 2>/dev/null || true ;; esac
    sleep 1
done
echo "slurm: the node did not come up (state '${state:-none}'); see $LOGS"
exit 1
