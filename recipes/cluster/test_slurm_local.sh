#!/usr/bin/env bash
# The Slurm template under a real Slurm, on this machine: a one-node cluster (slurmctld + slurmd on
# localhost, munge auth, one fake GPU as a Slurm GRES) runs recipes/cluster/slurm_ray.sbatch with the
# 2-step cluster smoke recipe (recipes/cluster/smoke/) on verl's CPU platform, then checks the job log.
# Not part of CI (it installs system packages and starts daemons; about 3-5 minutes on a 2-core box).
#
#   sudo bash recipes/cluster/test_slurm_local.sh [work dir]      # default: a new /tmp/g2rl_slurm.XXXX
#
# Needs root (apt-get, munged, slurmd), Debian/Ubuntu and the project's .venv. It writes its own
# slurm.conf under the work dir (SLURM_CONF), so /etc/slurm is left alone, and stops the daemons it
# started on exit. Exit status 0 only when the job completed, its log shows both training steps with
# our metrics, and no process of the job is left.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="${1:-$(mktemp -d /tmp/g2rl_slurm.XXXX)}"
mkdir -p "$WORK"/{etc,state,spool,log}
WORK="$(cd "$WORK" && pwd)"
STEPS=2
JOB_TIMEOUT_S="${JOB_TIMEOUT_S:-900}"
fail() { echo "test_slurm_local: FAILED: $*" >&2; exit 1; }

[[ "$(id -u)" == 0 ]] || fail "run as root (installs slurm-wlm/munge, starts munged, slurmctld, slurmd)"
[[ -x "$REPO_DIR/.venv/bin/python" ]] || fail "no $REPO_DIR/.venv: install the project first (README, quickstart)"

# ---- 1. packages --------------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "installing slurm-wlm and munge (Debian packages)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge
fi

# ---- 2. daemons (munge, slurmctld, slurmd) ----------------------------------------------------------
STARTED_PIDS=()
cleanup() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${STARTED_PIDS[@]}"; do
        for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

if [[ ! -S /run/munge/munge.socket.2 ]] || ! munge -n >/dev/null 2>&1; then
    [[ -f /etc/munge/munge.key ]] || mungekey --create --keyfile /etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge /var/log/munge /var/lib/munge && chown munge:munge /run/munge /var/log/munge /var/lib/munge
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 20); do munge -n >/dev/null 2>&1 && break; sleep 0.5; done
    STARTED_PIDS+=("$(cat /run/munge/munged.pid)")
fi
munge -n | unmunge >/dev/null || fail "munge does not work (munged not running?)"

free_port() { "$REPO_DIR/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("",0)); print(s.getsockname()[1])'; }
NODE="$(hostname -s)"
CPUS="$(nproc)"
MEM_MB="$(awk '/MemTotal/ {print int($2/1024*0.8)}' /proc/meminfo)"
export SLURM_CONF="$WORK/etc/slurm.conf"
cat >"$SLURM_CONF" <<EOF
# one-machine Slurm for recipes/cluster/test_slurm_local.sh
ClusterName=g2rllocal
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB Gres=gpu:1 State=UNKNOWN
PartitionName=local Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
# one fake GPU: the CPU platform's stand-in, so the template's --gpus-per-node path runs as written
# (a GPU GRES needs a device file; without one slurmd reports 0 GPUs and the node is drained)
printf 'AutoDetect=off\nNodeName=%s Name=gpu File=/dev/null Count=1\n' "$NODE" >"$WORK/etc/gres.conf"

/usr/sbin/slurmctld -D -f "$SLURM_CONF" >"$WORK/log/slurmctld.out" 2>&1 &
STARTED_PIDS+=("$!")
/usr/sbin/slurmd -D -f "$SLURM_CONF" >"$WORK/log/slurmd.out" 2>&1 &
STARTED_PIDS+=("$!")
for _ in $(seq 60); do
    sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed)' && break
    sleep 1
done
sinfo -h -o '%T' | grep -qE '^(idle|mixed)' || {
    tail -n 20 "$WORK/log/slurmctld.log" "$WORK/log/slurmd.log" >&2 || true
    fail "the Slurm node did not become idle (logs above, $WORK/log)"
}
sinfo

# ---- 3. the job -------------------------------------------------------------------------------------
"$REPO_DIR/.venv/bin/python" "$REPO_DIR/tests/cluster/smoke_assets.py" "$WORK/smoke" >/dev/null
MARKER="g2rl_slurm_$(basename "$WORK")"
# The job's environment (sbatch exports it to every srun step): verl's CPU platform with one fake GPU,
# 16 logical CPUs for Ray (verl asks for 3 per GPU; this box has 2), and a marker to find leftovers.
cd "$REPO_DIR"
start=$SECONDS
JOB_ID="$(
    VERL_PLATFORM=cpu VERL_ENGINE_DEVICE=cuda CUDA_VISIBLE_DEVICES=0 OMP_NUM_THREADS=1 \
    RECIPE=recipes/cluster/smoke/train.sh SMOKE_DIR="$WORK/smoke" TOTAL_STEPS=$STEPS GPUS_PER_NODE=1 \
    RAY_START_ARGS="--num-cpus=16" RAY_PORT="$(free_port)" RAY_DASHBOARD_PORT="$(free_port)" \
    G2RL_SLURM_TEST="$MARKER" \
    timeout "$JOB_TIMEOUT_S" sbatch --parsable --wait --nodes=1 --cpus-per-task="$CPUS" --gpus-per-node=1 \
        --output="$WORK/slurm-%j.out" recipes/cluster/slurm_ray.sbatch
)" || true
JOB_ID="${JOB_ID%%;*}"
[[ -n "$JOB_ID" ]] || fail "sbatch did not submit the job"
if scontrol show job "$JOB_ID" 2>/dev/null | grep -qE 'JobState=(RUNNING|PENDING)'; then
    echo "job $JOB_ID still running after ${JOB_TIMEOUT_S}s: cancelling it" >&2
    scancel "$JOB_ID" || true
    sleep 10
fi
elapsed=$((SECONDS - start))
LOG="$(ls "$WORK"/slurm-*.out 2>/dev/null | head -1)"
[[ -n "$LOG" ]] || fail "no job log in $WORK (sbatch failed?)"
STATE="$(scontrol show job "$JOB_ID" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 || true)"
EXIT="$(scontrol show job "$JOB_ID" 2>/dev/null | grep -o ' ExitCode=[0-9:]*' | cut -d= -f2 || true)"
echo "job $JOB_ID: state ${STATE:-?}, exit ${EXIT:-?}, ${elapsed}s; log $LOG"

# ---- 4. checks ----------------------------------------------------------------------------------------
problems=()
[[ "$STATE" == COMPLETED && "$EXIT" == 0:0 ]] || problems+=("job state ${STATE:-?} exit ${EXIT:-?} (want COMPLETED 0:0)")
for s in $(seq 1 $STEPS); do
    line="$(grep -E "(^|[ )])step:$s - " "$LOG" | tail -1 || true)"
    [[ -n "$line" ]] || { problems+=("no 'step:$s - ...' line in the log"); continue; }
    for key in g2rl/base_reward_mean actor/gppo_clipfrac_low gppo/positive_frac reward/kind_rate/; do
        [[ "$line" == *"$key"* ]] || problems+=("step $s line lacks $key")
    done
done
grep -q "g2rl_verl\[node=.*plugin registered" "$LOG" || problems+=("no plugin marker (g2rl_verl[node=...]) in the log")
grep -q "g2rl_verl\[node=.*reward router loaded" "$LOG" || problems+=("no reward-router marker in the log")
grep -q "stopping Ray" "$LOG" || problems+=("the template did not stop Ray")
sleep 5
left=()
for d in /proc/[0-9]*; do
    { tr '\0' '\n' <"$d/environ"; } 2>/dev/null | grep -qx "G2RL_SLURM_TEST=$MARKER" && left+=("${d#/proc/}")
done
[[ ${#left[@]} -eq 0 ]] || problems+=("processes of the job still running: ${left[*]}")

echo "---- log excerpt ----"
grep -E "starting Ray|Ray cluster|Active:|node_|step:[0-9]+ - |g2rl_verl\[node=|stopping Ray|recipe .* exited" "$LOG" \
    | sed -E 's/(step:[0-9]+ - ).*(g2rl\/base_reward_mean:[^ ]*).*(actor\/gppo_clipfrac_low:[^ ]*).*/\1... \2 ... \3 .../' \
    | cut -c1-240 || true
if [[ ${#problems[@]} -gt 0 ]]; then
    printf 'problem: %s\n' "${problems[@]}" >&2
    fail "${#problems[@]} problem(s); full log: $LOG"
fi
echo "test_slurm_local: OK (job $JOB_ID, ${elapsed}s, work dir $WORK)"
