"""Per-sandbox control groups: memory (anonymous, page cache, tmpfs and SysV/POSIX shared memory all count)
and process count, on cgroup v2 or v1 (the ``memory`` and ``pids`` hierarchies), whichever the host has.

Needs write access to the cgroup tree (root, or a delegated v2 subtree). Each sandbox gets its own group
under ``g2rl-sandbox/``; bwrap is moved into it before it starts (``preexec``), so every process of the
sandbox, and every page they charge, is counted there. After the run the parent reads the group's OOM
kill counter: that is the parent's own evidence that the candidate exhausted memory (MLE, never SE).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

CGROUP_ROOT = "/sys/fs/cgroup"
GROUP_PARENT = "g2rl-sandbox"


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read_counter(path: str, key: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
    except (OSError, ValueError):
        pass
    return 0


@dataclass
class Cgroup:
    """One sandbox's groups: `dirs` are the directories to join and remove (one on v2, two on v1)."""

    version: int
    dirs: list[str]

    def join_self(self) -> None:
        """Moves the calling process into the groups (called in the child before exec)."""
        pid = str(os.getpid())
        for d in self.dirs:
            _write(os.path.join(d, "cgroup.procs"), pid)

    def oom_kills(self) -> int:
        if self.version == 2:
            return _read_counter(os.path.join(self.dirs[0], "memory.events"), "oom_kill")
        return _read_counter(os.path.join(self.dirs[0], "memory.oom_control"), "oom_kill")

    def remove(self) -> None:
        """Kills whatever is left in the groups and removes them."""
        for d in self.dirs:
            for _ in range(50):
                pids = _procs(d)
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.01)
            try:
                os.rmdir(d)
            except OSError:
                pass  # busy for a moment while the kernel frees the last pages: harmless, reused never


def _procs(d: str) -> list[int]:
    try:
        with open(os.path.join(d, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


class CgroupManager:
    """Creates per-sandbox groups. `available` is False (with `reason`) where the host does not let us."""

    def __init__(self, root: str = CGROUP_ROOT):
        self.root = root
        self.version = 0
        self.reason = ""
        self.parents: list[str] = []
        try:
            self._detect()
        except OSError as e:
            self.version, self.parents = 0, []
            self.reason = f"cannot set up cgroups under {root}: {e}"

    @property
    def available(self) -> bool:
        return self.version != 0

    def _detect(self) -> None:
        unified = os.path.join(self.root, "cgroup.controllers")
        if os.path.exists(unified):
            with open(unified) as f:
                controllers = f.read().split()
            if not {"memory", "pids"} <= set(controllers):
                self.reason = f"cgroup v2 at {self.root} lacks the memory/pids controllers ({controllers})"
                return
            parent = os.path.join(self.root, GROUP_PARENT)
            os.makedirs(parent, exist_ok=True)
            _write(os.path.join(self.root, "cgroup.subtree_control"), "+memory +pids")
            _write(os.path.join(parent, "cgroup.subtree_control"), "+memory +pids")
            self.version, self.parents = 2, [parent]
            return
        v1 = [os.path.join(self.root, name) for name in ("memory", "pids")]
        if not all(os.path.exists(os.path.join(d, "cgroup.procs")) for d in v1):
            self.reason = f"no cgroup v2 and no v1 memory+pids hierarchies under {self.root}"
            return
        parents = [os.path.join(d, GROUP_PARENT) for d in v1]
        for p in parents:
            os.makedirs(p, exist_ok=True)
        if not os.access(parents[0], os.W_OK):
            self.reason = f"{parents[0]} is not writable (run as root or delegate a cgroup)"
            return
        self.version, self.parents = 1, parents

    def create(self, name: str, memory_bytes: int, pids: int) -> Cgroup:
        dirs = [os.path.join(p, name) for p in self.parents]
        for d in dirs:
            os.mkdir(d)
        group = Cgroup(self.version, dirs)
        try:
            if self.version == 2:
                d = dirs[0]
                _write(os.path.join(d, "memory.max"), str(memory_bytes))
                if os.path.exists(os.path.join(d, "memory.swap.max")):
                    _write(os.path.join(d, "memory.swap.max"), "0")
                _write(os.path.join(d, "pids.max"), str(pids))
            else:
                mem, pid_dir = dirs
                _write(os.path.join(mem, "memory.limit_in_bytes"), str(memory_bytes))
                if os.path.exists(os.path.join(mem, "memory.memsw.limit_in_bytes")):  # no swap either
                    _write(os.path.join(mem, "memory.memsw.limit_in_bytes"), str(memory_bytes))
                _write(os.path.join(pid_dir, "pids.max"), str(pids))
        except OSError:
            group.remove()
            raise
        return group
