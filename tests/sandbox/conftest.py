"""Shared fixtures of the sandbox tests: a local (bwrap) backend, small limits, host invariants."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field

import pytest

from sandbox import (
    IsolationUnavailable,
    Limits,
    ProgramResult,
    Verdict,
    evaluate_async,
    get_backend,
)
from sandbox.local_backend import LocalBackend, UidLease

# Small limits keep the hostile suite fast: 1 s CPU, wall cap 4 s, 256 MiB.
SMALL = Limits(cpu_s=1.0, memory_mb=256)
# Sleepers: the wall cap is what ends them.
SLEEPY = Limits(cpu_s=0.5, wall_s=1.0, memory_mb=256)
# CPU-bound cases: a generous wall cap so that a loaded CI box still reports the CPU verdict.
BUSY = Limits(cpu_s=0.5, wall_s=20.0, memory_mb=256)


@pytest.fixture(scope="session")
def local_backend():
    try:
        return get_backend("local")
    except IsolationUnavailable as e:  # only when bwrap/user namespaces are genuinely unusable here
        print(f"\nSKIP local backend: {e}", file=sys.stderr)
        pytest.skip(f"local backend unavailable: {e}")


@pytest.fixture(scope="session")
def numpy_site_packages():
    try:
        import numpy
    except ImportError:
        pytest.skip("numpy is not installed in the test environment")
    return os.path.dirname(os.path.dirname(numpy.__file__))


@pytest.fixture(scope="session")
def numpy_backend(local_backend, numpy_site_packages):
    return get_backend("local", site_packages=[numpy_site_packages])


def run(backend, program: str, spec, limits: Limits = SMALL, compare: str = "lines") -> ProgramResult:
    return asyncio.run(evaluate_async(program, spec, limits=limits, compare=compare, backend=backend))


def stdio(inputs, outputs=None) -> dict:
    inputs = list(inputs)
    return {"inputs": inputs, "outputs": list(outputs) if outputs is not None else [""] * len(inputs)}


# ----------------------------------------------------------------------------------------------------
# a correct program that runs next to hostile ones (concurrent runs keep their verdicts)

BYSTANDER = "import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n"
BYSTANDER_SPEC = {"inputs": ["1 2 3", "10 20", "7"], "outputs": ["6", "30", "7"]}  # hand-computed sums


def run_next_to_bystander(backend, program: str, spec, limits: Limits = SMALL) -> ProgramResult:
    async def both():
        return await asyncio.gather(
            evaluate_async(program, spec, limits=limits, backend=backend),
            evaluate_async(BYSTANDER, BYSTANDER_SPEC, limits=SMALL, backend=backend),
        )

    hostile, bystander = asyncio.run(both())
    assert [t.verdict for t in bystander.tests] == [Verdict.AC] * 3, bystander.to_dict()
    return hostile


# ----------------------------------------------------------------------------------------------------
# host invariants


def _proc_stat(pid: str) -> tuple[int, str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    rest = stat[stat.rfind(b")") + 2:].split()
    return int(rest[1]), rest[0].decode()  # ppid, state


def descendants(root: int | None = None) -> list[int]:
    """Live (non-zombie) descendants of this process."""
    root = os.getpid() if root is None else root
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _proc_stat(name)
            if st and st[1] != "Z":
                children.setdefault(st[0], []).append(int(name))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def sandbox_uid_processes(ours: set[int]) -> list[int]:
    """Processes running as a uid this process leased (privileged mode): must be none after a run."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{name}").st_uid
        except OSError:
            continue
        if uid in ours and (_proc_stat(name) or (0, "Z"))[1] != "Z":  # zombies are dead, awaiting reaping
            found.append(int(name))
    return found


HOST_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/", "/root", "/etc", os.getcwd())


def sandbox_owned_files(ours: set[int]) -> list[str]:
    """Files in host directories owned by a sandbox uid (privileged mode): must be none."""
    found = []
    for d in HOST_DIRS:
        try:
            entries = os.listdir(d)
        except OSError:
            continue
        for e in entries:
            try:
                uid = os.lstat(os.path.join(d, e)).st_uid
            except OSError:
                continue
            if uid in ours:
                found.append(os.path.join(d, e))
    return found


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class HostBaseline:
    fds: int = field(default_factory=lambda: len(os.listdir("/proc/self/fd")))
    rss_mb: float = field(default_factory=_rss_mb)
    leased_before: dict[int, int] = field(default_factory=lambda: dict(UidLease.leased_by_this_process))
    # Children that already existed (e.g. another suite's long-lived worker pool in the same pytest
    # process) are not this test's survivors.
    children_before: frozenset = field(default_factory=lambda: frozenset(descendants()))

    def problems(self, rss_slack_mb: float = 64.0) -> list[str]:
        # Only uids leased during this test: other sessions on a shared host lease from the same range
        # (a uid is unique among live sandboxes, not over time).
        ours = {uid for uid, n in UidLease.leased_by_this_process.items() if n > self.leased_before.get(uid, 0)}
        out = []
        # Idle serve-many sandboxes (bwrap + the runner waiting for its next program, two pipe fds each)
        # are kept on purpose; a candidate's process is never among them (the reset kills those).
        idle = LocalBackend.all_idle_sandbox_pids()
        expected = set(idle) | {p for pid in idle for p in descendants(pid)}
        survivors = sorted(set(descendants()) - self.children_before - expected)
        if survivors:
            out.append(f"surviving child processes: {survivors}")
        if sandbox_uid_processes(ours):
            out.append(f"processes under sandbox uids: {sandbox_uid_processes(ours)}")
        if sandbox_owned_files(ours):
            out.append(f"files written outside the sandbox: {sandbox_owned_files(ours)}")
        fds = len(os.listdir("/proc/self/fd")) - 2 * len(idle)
        if fds > self.fds + 2:  # +2: the event loop's own self-pipe may come and go
            out.append(f"fd count {self.fds} -> {fds}")
        if _rss_mb() > self.rss_mb + rss_slack_mb:
            out.append(f"parent RSS {self.rss_mb:.0f} -> {_rss_mb():.0f} MiB")
        return out


@pytest.fixture
def host():
    """Snapshot before the test; `assert not host.problems()` after the run checks the invariants."""
    return HostBaseline()


class Helpers:
    """Handed to tests as the `sb` fixture (test modules cannot import conftest under importlib mode)."""

    SMALL, SLEEPY, BUSY = SMALL, SLEEPY, BUSY
    BYSTANDER, BYSTANDER_SPEC = BYSTANDER, BYSTANDER_SPEC
    run = staticmethod(run)
    stdio = staticmethod(stdio)
    run_next_to_bystander = staticmethod(run_next_to_bystander)
    descendants = staticmethod(descendants)


@pytest.fixture(scope="session")
def sb():
    return Helpers
