"""A throw-away multi-node Ray cluster on one machine: one `ray start --block` process per node.

Each node gets its own temp dir and its own free ports (GCS, dashboard, client server, node manager,
object manager, metrics, dashboard agent, runtime-env agent; worker ports are left to the OS), so two
nodes on one host do not collide and nothing touches another Ray on the machine. Every process of the
cluster inherits a unique marker variable; `shutdown()` ends exactly those processes, by pid
(`ray stop` would stop every Ray process on the machine, other people's included).

Failures raise `RayClusterError` with the cause in words: Ray not installed, a port in use, a node that
did not come up (with the tail of its `ray start` output).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from g2rl_verl.cpu.environment import pids_with_env

MARKER_VAR = "G2RL_RAY_TEST_CLUSTER"
HEAD_PORT_NAMES = ("port", "dashboard-port", "ray-client-server-port")
NODE_PORT_NAMES = (
    "node-manager-port",
    "object-manager-port",
    "metrics-export-port",
    "dashboard-agent-listen-port",
    "dashboard-agent-grpc-port",
    "runtime-env-agent-port",
)


class RayClusterError(RuntimeError):
    """The local Ray cluster could not be started or used; the message says why and what to do."""


def ray_executable() -> str:
    """The `ray` CLI; a clear error when Ray is not installed."""
    exe = shutil.which("ray")
    if exe is None:
        raise RayClusterError(
            "Ray is not installed: no `ray` executable on PATH. Install the project "
            "(`pip install -e .`; verl depends on ray[default]) and activate its environment."
        )
    return exe


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def free_ports(n: int, avoid: set[int] = frozenset()) -> list[int]:
    """n distinct ports that are free right now (the OS picks them; checked again before use)."""
    ports: list[int] = []
    while len(ports) < n:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("0.0.0.0", 0))
            port = s.getsockname()[1]
        if port not in ports and port not in avoid:
            ports.append(port)
    return ports


def check_ports_free(ports: dict[str, int], node: str) -> None:
    busy = {name: port for name, port in ports.items() if port_in_use(port)}
    if busy:
        raise RayClusterError(
            f"port in use: node {node!r} cannot start, {busy} already taken by another process "
            "(pick other ports or stop that process)"
        )


@dataclass
class RayNode:
    name: str
    head: bool
    temp_dir: Path
    ports: dict[str, int]
    log_file: Path
    proc: subprocess.Popen
    resources: dict[str, float] = field(default_factory=dict)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no ray start output>"


class LocalRayCluster:
    """Start with `start_head`, `add_node`; `wait_for_nodes`; always `shutdown()` (a context manager)."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.ray = ray_executable()
        self.workdir = Path(workdir)
        self.marker = uuid.uuid4().hex
        # Token authentication with a token of our own (nodes, CLI calls and the job all carry it), so the
        # cluster neither depends on nor trips over ~/.ray/auth_token: when that file exists, a head node
        # enables token auth by default and a node started without the token cannot join.
        auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self.env = {**os.environ, **(env or {}), **auth, MARKER_VAR: self.marker}
        self.nodes: list[RayNode] = []

    # ------------------------------------------------------------------------------------------ start
    def _start(self, name: str, head: bool, num_cpus: int, num_gpus: int, resources: dict) -> RayNode:
        used = {p for node in self.nodes for p in node.ports.values()}
        names = (HEAD_PORT_NAMES if head else ()) + NODE_PORT_NAMES
        ports = dict(zip(names, free_ports(len(names), used)))
        check_ports_free(ports, name)
        # short path: Ray's socket paths live under the temp dir and must stay below ~107 characters
        temp_dir = Path(tempfile.mkdtemp(prefix=f"ray_{name[:6]}_", dir="/tmp"))
        cmd = [self.ray, "start", "--block", "--disable-usage-stats", f"--temp-dir={temp_dir}"]
        cmd += [f"--{k}={v}" for k, v in ports.items()]
        cmd += ["--min-worker-port=0", "--max-worker-port=0"]  # OS-assigned: no clash between nodes
        cmd += [f"--num-cpus={num_cpus}", f"--num-gpus={num_gpus}", "--node-ip-address=127.0.0.1"]
        if resources:
            cmd.append(f"--resources={json.dumps(resources)}")
        if head:
            cmd += ["--head", "--dashboard-host=127.0.0.1", "--include-dashboard=true"]
        else:
            cmd.append(f"--address={self.gcs_address}")
        log_file = self.workdir / f"ray_start_{name}.log"
        with open(log_file, "w") as log:
            proc = subprocess.Popen(
                cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        node = RayNode(name, head, temp_dir, ports, log_file, proc, resources)
        self.nodes.append(node)
        return node

    def start_head(self, name: str = "head", num_cpus: int = 4, num_gpus: int = 0, resources=None) -> RayNode:
        node = self._start(name, True, num_cpus, num_gpus, resources or {})
        self._wait_for_dashboard(node)
        return node

    def add_node(self, name: str, num_cpus: int, num_gpus: int, resources=None) -> RayNode:
        return self._start(name, False, num_cpus, num_gpus, resources or {})

    @property
    def head(self) -> RayNode:
        return self.nodes[0]

    @property
    def gcs_address(self) -> str:
        return f"127.0.0.1:{self.head.ports['port']}"

    @property
    def dashboard_address(self) -> str:
        return f"http://127.0.0.1:{self.head.ports['dashboard-port']}"

    def _failed_start(self, node: RayNode, what: str) -> RayClusterError:
        busy = {n: p for n, p in node.ports.items() if port_in_use(p)} if node.proc.poll() is not None else {}
        cause = f"; ports now taken by another process: {busy}" if busy else ""
        return RayClusterError(
            f"Ray could not start node {node.name!r} ({what}{cause}). `ray start` output:\n{node.log_tail()}"
        )

    def _wait_for_dashboard(self, node: RayNode, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if node.proc.poll() is not None:
                raise self._failed_start(node, f"`ray start` exited with {node.proc.returncode}")
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.settimeout(1.0)
                if s.connect_ex(("127.0.0.1", node.ports["dashboard-port"])) == 0:
                    return
            time.sleep(0.5)
        raise self._failed_start(node, f"dashboard not listening after {timeout_s:.0f} s")

    def list_state(self, kind: str, *filters: str) -> list[dict]:
        """`ray list <kind>` as JSON (nodes, actors, jobs ...), through the state API of the dashboard."""
        cmd = [self.ray, "list", kind, "--address", self.dashboard_address, "--format", "json", "--detail"]
        cmd += ["--limit", "10000"]
        for f in filters:
            cmd += ["--filter", f]
        out = subprocess.run(cmd, check=False, env=self.env, capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RayClusterError(f"`ray list {kind}` failed: {out.stderr.strip()[-2000:]}")
        return json.loads(out.stdout)

    def wait_for_nodes(self, timeout_s: float = 120.0) -> dict[str, str]:
        """Wait until every started node is ALIVE; returns node name -> Ray node id."""
        deadline = time.monotonic() + timeout_s
        while True:
            for node in self.nodes:
                if node.proc.poll() is not None:
                    raise self._failed_start(node, f"`ray start` exited with {node.proc.returncode}")
            try:
                alive = [n for n in self.list_state("nodes") if n.get("state") == "ALIVE"]
            except (RayClusterError, subprocess.TimeoutExpired, json.JSONDecodeError):
                alive = []
            ids = self._match_nodes(alive)
            if len(ids) == len(self.nodes):
                return ids
            if time.monotonic() > deadline:
                missing = [n.name for n in self.nodes if n.name not in ids]
                raise self._failed_start(
                    next(n for n in self.nodes if n.name == missing[0]),
                    f"not ALIVE in the cluster after {timeout_s:.0f} s",
                )
            time.sleep(1.0)

    def _match_nodes(self, alive: list[dict]) -> dict[str, str]:
        """Node name -> id: the head by is_head_node, the others by their unique custom resource."""
        ids = {}
        for node in self.nodes:
            for state in alive:
                total = state.get("resources_total", {})
                is_it = (
                    state.get("is_head_node")
                    if node.head
                    else bool(node.resources) and all(k in total for k in node.resources)
                )
                if is_it:
                    ids[node.name] = state["node_id"]
        return ids

    # --------------------------------------------------------------------------------------- shutdown
    def processes(self) -> list[int]:
        """Pids of every live process that carries this cluster's marker (ours, by construction)."""
        return pids_with_env(MARKER_VAR, self.marker)

    def shutdown(self, grace_s: float = 15.0) -> list[int]:
        """End every process of the cluster: SIGTERM all of them, SIGKILL what is left after ``grace_s``.

        Returns the pids that needed SIGKILL (empty: everything exited on SIGTERM); raises if a process
        survives SIGKILL. Removes the nodes' temp dirs.
        """
        for node in self.nodes:  # the `ray start --block` processes carry the marker too; be explicit
            if node.proc.poll() is None:
                node.proc.send_signal(signal.SIGTERM)
        for pid in self.processes():
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.3)
        killed = self.processes()
        for pid in killed:
            _signal(pid, signal.SIGKILL)
        for node in self.nodes:
            if node.proc.poll() is None:
                node.proc.kill()
            node.proc.wait(timeout=30)
        deadline = time.monotonic() + 10.0
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.3)
        left = self.processes()
        if left:
            raise RayClusterError(f"Ray processes survived SIGKILL: {left}")
        for node in self.nodes:
            shutil.rmtree(node.temp_dir, ignore_errors=True)
        return killed

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
