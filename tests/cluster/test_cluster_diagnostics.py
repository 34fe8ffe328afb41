"""Every failure of the multi-node test names its cause: Ray not installed, a port in use, the plugin or
the reward router not loaded on a node, the runtime env not reaching a node. Fast: no cluster starts."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import ray_cluster
from job_log import markers, registration_problems, step_metrics
from ray_cluster import LocalRayCluster, RayClusterError, check_ports_free, free_ports

NODE_A = "a" * 56
NODE_B = "0b" * 28
LOUD = "g2rl_verl.plugin"


def _line(node: str, pid: int, what: str, modules: str = LOUD, actor: str = "WorkerDict") -> str:
    # what Ray writes into a job log for a worker's stderr line: colour codes + "(Actor pid=..)" prefix
    return (
        f"\x1b[36m({actor} pid={pid})\x1b[0m g2rl_verl[node={node} host=n1 pid={pid}]: {what}"
        f" (VERL_USE_EXTERNAL_MODULES={modules})"
    )


PLUGIN_LINE = (
    "plugin registered policy losses gppo,gppo_only_high,ce_gppo, advantage estimator g2rl, rollout hf"
)
ROUTER_LINE = "reward router loaded, verifiers code,math,mc"


def test_ray_not_installed_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no `ray` anywhere
    with pytest.raises(RayClusterError, match="Ray is not installed"):
        LocalRayCluster(tmp_path)


def test_port_in_use_is_named_before_ray_starts(monkeypatch, tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(RayClusterError, match=rf"port in use: node 'head'.*'port': {port}"):
            check_ports_free({"port": port, "dashboard-port": free_ports(1, {port})[0]}, "head")
        # the cluster refuses to start on it (the OS handed out a port someone took meanwhile)
        monkeypatch.setattr(ray_cluster, "free_ports", lambda n, avoid=(): [port] + free_ports(n - 1, {port}))
        cluster = LocalRayCluster(tmp_path)
        with pytest.raises(RayClusterError, match=f"port in use.*{port}"):
            cluster.start_head()
        assert cluster.nodes == []  # nothing was started


def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(12)
    assert len(set(ports)) == 12
    check_ports_free({str(p): p for p in ports}, "any")


def test_marker_parsing_of_a_ray_job_log():
    log = "\n".join(
        [
            "Running entrypoint for job x: python -m g2rl_verl.main",
            _line(NODE_A, 11, PLUGIN_LINE, actor="G2RLTaskRunner"),
            _line(NODE_B, 22, PLUGIN_LINE),
            _line(NODE_B, 23, ROUTER_LINE, actor="RewardLoopWorker"),
            "g2rl_verl[node=zz host=h pid=1]: not a hex node id (VERL_USE_EXTERNAL_MODULES=)",
        ]
    )
    found = markers(log)
    assert [(m.node_id, m.pid, m.what.split(",")[0]) for m in found] == [
        (NODE_A, 11, "plugin registered policy losses gppo"),
        (NODE_B, 22, "plugin registered policy losses gppo"),
        (NODE_B, 23, "reward router loaded"),
    ]
    assert registration_problems(found, NODE_B, "trainer", LOUD) == []


def test_plugin_not_loaded_on_a_node_is_named():
    found = markers(_line(NODE_A, 11, PLUGIN_LINE) + "\n" + _line(NODE_A, 12, ROUTER_LINE))
    problems = registration_problems(found, NODE_B, "trainer", LOUD)
    assert any(p.startswith(f"plugin not loaded on node 'trainer' ({NODE_B})") for p in problems), problems
    assert any(p.startswith("reward router not loaded on node 'trainer'") for p in problems), problems


def test_runtime_env_missing_on_a_node_is_named():
    # the plugin came through verl's entry point only: the runtime env's variable never arrived
    found = markers(_line(NODE_B, 22, PLUGIN_LINE, modules="") + "\n" + _line(NODE_B, 23, ROUTER_LINE))
    [problem] = registration_problems(found, NODE_B, "trainer", LOUD)
    assert "runtime env did not reach workers [22]" in problem


def test_plugin_without_our_losses_is_named():
    found = markers(
        _line(NODE_B, 22, "plugin registered policy losses vanilla") + "\n" + _line(NODE_B, 23, ROUTER_LINE)
    )
    [problem] = registration_problems(found, NODE_B, "trainer", LOUD)
    assert "did not report our losses and estimator" in problem


def test_step_metrics_parse_verl_console_lines():
    log = (
        "\x1b[36m(G2RLTaskRunner pid=5)\x1b[0m step:1 - actor/pg_loss:0.5 - g2rl/base_reward_mean:-1.0"
        " - training/epoch:0\n"
        "(G2RLTaskRunner pid=5) step:2 - actor/pg_loss:-2.5e-05 - note:text\n"
        "Training Progress: 50%| step:3 is not a metrics line\n"
    )
    assert step_metrics(log) == {
        1: {"actor/pg_loss": 0.5, "g2rl/base_reward_mean": -1.0, "training/epoch": 0.0},
        2: {"actor/pg_loss": -2.5e-05, "note": "text"},
    }


def test_marker_is_silent_outside_ray_workers(capsys):
    from g2rl_verl import node_marker

    node_marker.announce("plugin registered")  # this test process is no Ray worker
    assert capsys.readouterr().err == ""
