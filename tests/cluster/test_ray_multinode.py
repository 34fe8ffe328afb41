"""A real job on a real two-node Ray cluster: `LAUNCHER=ray` + `recipes/cluster/runtime_env.yaml`.

On one machine: a head node (CPUs, no GPU) and a second node (CPUs, one GPU and a custom resource that
names it), each its own `ray start` with its own ports and temp dir (tests/cluster/ray_cluster.py). The
nodes run verl's CPU platform (g2rl_verl.cpu): the second node's one "GPU" is the resource verl's
resource pools ask for ({"CPU": 3, "GPU": 1} bundles), so the training workers can only be placed there.
The job is the 2-step smoke recipe (recipes/cluster/smoke/), submitted through the shared launcher.

Checked: the job succeeds; verl's resource-pool workers and the rollout server ran on the second node;
our plugin (losses, estimator) and reward router loaded there, with the runtime env's variables (markers
in the job log and in the second node's own worker logs); our metrics are in the job log; no process of
the cluster is left. One cluster and one job serve every test (module fixture). Budget: ~3-4 minutes on
an idle 2-core box (Ray start ~20 s, the job ~2 min, shutdown a few seconds).
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # test folders are not packages (--import-mode=importlib)

from job_log import PLUGIN, ROUTER, Marker, markers, registration_problems, step_metrics
from ray_cluster import LocalRayCluster
from smoke_assets import build_smoke_assets

from g2rl_verl.cpu.environment import cpu_run_environment

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "recipes" / "cluster" / "smoke" / "train.sh"
NODE_RESOURCE = "g2rl_smoke_trainer_node"  # names the second node; verl's pools need its "GPU"
STEPS = 2
JOB_TIMEOUT_S = 420
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@dataclass
class SmokeRun:
    submit: subprocess.CompletedProcess
    job_status: str
    job_log: str
    actors: list[dict]
    node_ids: dict[str, str]  # node name -> Ray node id
    node2_worker_logs: str  # every worker-*.err/out under the second node's own temp dir
    killed_on_shutdown: list[int]
    left_after_shutdown: list[int]
    temp_dirs: list[Path]
    wall_s: dict[str, float]

    def log_tail(self, n: int = 60) -> str:
        return "\n".join((self.job_log or self.submit.stdout + self.submit.stderr).splitlines()[-n:])


def _worker_logs(temp_dir: Path) -> str:
    return "\n".join(
        p.read_text(errors="replace") for p in sorted(temp_dir.glob("session_*/logs/worker-*")) if p.is_file()
    )


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> SmokeRun:
    workdir = tmp_path_factory.mktemp("ray_multinode")
    t0 = time.monotonic()
    build_smoke_assets(workdir / "smoke")
    # The nodes' environment, as a CPU cluster's admin would export it before `ray start`: verl's CPU
    # platform. The plugin variables are NOT set here: they must come from runtime_env.yaml.
    node_env = {
        **cpu_run_environment(num_fake_gpus=1),
        "OMP_NUM_THREADS": "1",  # 2 shared cores: more threads only oversubscribe
        "PYTHONUNBUFFERED": "1",
    }
    cluster = LocalRayCluster(workdir, node_env)
    for var in ("VERL_USE_EXTERNAL_MODULES", "RAY_ADDRESS", "RAY_DEDUP_LOGS_ALLOW_REGEX"):
        cluster.env.pop(var, None)  # inherited from whoever runs the test: would mask a runtime-env bug
    wall = {}
    try:
        cluster.start_head("head", num_cpus=4, num_gpus=0)
        cluster.add_node("trainer", num_cpus=8, num_gpus=1, resources={NODE_RESOURCE: 1})
        node_ids = cluster.wait_for_nodes()
        wall["ray_start_s"] = time.monotonic() - t0
        submission_id = f"g2rl_smoke_{uuid.uuid4().hex[:8]}"
        env = {
            **cluster.env,
            "LAUNCHER": "ray",
            "RAY_ADDRESS": cluster.dashboard_address,
            "RAY_JOB_ARGS": f"--submission-id {submission_id}",
            "SMOKE_DIR": str(workdir / "smoke"),
            "TOTAL_STEPS": str(STEPS),
        }
        t1 = time.monotonic()
        try:
            submit = subprocess.run(
                ["bash", str(SMOKE)],
                env=env,
                capture_output=True,
                text=True,
                timeout=JOB_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            subprocess.run(
                [cluster.ray, "job", "stop", submission_id, "--address", cluster.dashboard_address],
                env=cluster.env,
                check=False,
                capture_output=True,
                timeout=60,
            )
            submit = subprocess.CompletedProcess(
                exc.cmd, -1, str(exc.stdout or ""), f"timed out after {JOB_TIMEOUT_S} s"
            )
        wall["job_s"] = time.monotonic() - t1
        jobs = [j for j in cluster.list_state("jobs") if j.get("submission_id") == submission_id]
        logs = subprocess.run(
            [cluster.ray, "job", "logs", submission_id, "--address", cluster.dashboard_address],
            env=cluster.env,
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        actors = cluster.list_state("actors")
        node2_logs = _worker_logs(cluster.nodes[1].temp_dir)
    finally:
        t2 = time.monotonic()
        temp_dirs = [n.temp_dir for n in cluster.nodes]
        killed = cluster.shutdown()
        wall["shutdown_s"] = time.monotonic() - t2
    wall["total_s"] = time.monotonic() - t0
    print(f"ray multinode smoke timings: {wall}")
    return SmokeRun(
        submit=submit,
        job_status=jobs[0]["status"] if jobs else "<job not found>",
        job_log=logs.stdout,
        actors=actors,
        node_ids=node_ids,
        node2_worker_logs=node2_logs,
        killed_on_shutdown=killed,
        left_after_shutdown=cluster.processes(),
        temp_dirs=temp_dirs,
        wall_s=wall,
    )


def _actors_on(smoke: SmokeRun, predicate) -> list[tuple[str, str, int]]:
    return [(a["class_name"], a["node_id"], a.get("pid")) for a in smoke.actors if predicate(a)]


def test_job_succeeded(smoke):
    assert smoke.submit.returncode == 0 and smoke.job_status == "SUCCEEDED", (
        f"job status {smoke.job_status}, `ray job submit` exit {smoke.submit.returncode}; "
        f"{smoke.submit.stderr[-2000:]}\njob log tail:\n{smoke.log_tail()}"
    )


def test_training_workers_ran_on_the_second_node(smoke):
    trainer_node, head_node = smoke.node_ids["trainer"], smoke.node_ids["head"]
    # verl's resource-pool workers are the actors scheduled into its placement groups (FSDP actor +
    # rollout engine, colocated in one WorkerDict); the HF rollout server runs beside them.
    pool_workers = _actors_on(smoke, lambda a: a.get("placement_group_id"))
    assert pool_workers, f"no placement-group actor found; actors: {[a['class_name'] for a in smoke.actors]}"
    assert {node for _, node, _ in pool_workers} == {trainer_node}, pool_workers
    assert any(name.endswith("WorkerDict") for name, _, _ in pool_workers), pool_workers
    servers = _actors_on(smoke, lambda a: a["class_name"] == "HFGenerationServer")
    assert servers and {node for _, node, _ in servers} == {trainer_node}, servers
    # the head held no GPU: nothing that needs one can have run there
    assert not _actors_on(smoke, lambda a: a["node_id"] == head_node and a.get("placement_group_id"))
    # verl spreads reward workers over the nodes: one ran on each (reward.num_workers=2)
    reward_nodes = {node for _, node, _ in _actors_on(smoke, lambda a: a["class_name"] == "RewardLoopWorker")}
    assert reward_nodes == {trainer_node, head_node}, reward_nodes


def test_plugin_and_reward_router_registered_on_the_second_node(smoke):
    trainer_node = smoke.node_ids["trainer"]
    found = markers(smoke.job_log)
    assert registration_problems(found, trainer_node, "trainer", "g2rl_verl.plugin") == []
    # the training worker process itself loaded the plugin; the reward worker there loaded the router
    [worker_pid] = [
        pid for name, node, pid in _actors_on(smoke, lambda a: a["class_name"].endswith("WorkerDict"))
    ]
    assert any(m.pid == worker_pid and m.what.startswith(PLUGIN) for m in found), (worker_pid, found)
    reward_pids = {
        pid
        for _, node, pid in _actors_on(smoke, lambda a: a["class_name"] == "RewardLoopWorker")
        if node == trainer_node
    }
    assert any(m.pid in reward_pids and m.what.startswith(ROUTER) for m in found), (reward_pids, found)
    # and the second node's own log directory has them: these lines were written on that node
    local: list[Marker] = markers(smoke.node2_worker_logs)
    assert {m.node_id for m in local} == {trainer_node}
    assert {m.pid for m in local if m.what.startswith(PLUGIN)} >= {worker_pid}


def test_our_metrics_are_in_the_job_log(smoke):
    steps = step_metrics(smoke.job_log)
    assert sorted(steps) == list(range(1, STEPS + 1)), f"steps logged: {sorted(steps)}\n{smoke.log_tail()}"
    for step, metrics in steps.items():
        for key in (
            "g2rl/base_reward_mean",  # our estimator
            "g2rl/shaped_reward_mean",
            "actor/gppo_clipfrac_low",  # our loss
            "actor/gppo_clipfrac_high",
            "gppo/positive_frac",
            "reward/infra_failure_rate",  # our reward router's trainer metrics
            "critic/score/mean",
        ):
            assert isinstance(metrics.get(key), float) and math.isfinite(metrics[key]), (
                step,
                key,
                metrics.get(key),
            )
        # profile g2rl: verl's score is 2*score01 - 1, which is exactly G2RL's base reward
        assert metrics["g2rl/base_reward_mean"] == pytest.approx(metrics["critic/score/mean"], abs=1e-5)
        kinds = [v for k, v in metrics.items() if k.startswith("reward/kind_rate/")]
        assert kinds and sum(kinds) == pytest.approx(1.0, abs=1e-6), kinds
        assert metrics["reward/infra_failure_rate"] == 0.0


def test_nothing_left_behind(smoke):
    assert smoke.left_after_shutdown == []
    assert not [d for d in smoke.temp_dirs if d.exists()]
    assert smoke.wall_s["total_s"] < 600, smoke.wall_s
