"""Docker backend: a warm pool of hardened containers, one program at a time per container.

Why it looks like this (threat model: docs/sandbox.md)
- ``docker exec`` has no timeout and the Engine API cannot kill an exec (docker-py#2651, moby#35703). So
  every program's limits are enforced INSIDE the container by the trusted runner (sandbox/runner.py, the
  same one the local backend uses), and the parent keeps a deadline on every answer (sandbox/session.py).
  A runner that misses it, or any other anomaly, gets the whole container destroyed
  (``remove(force=True)`` SIGKILLs every process in it) and the tests SE.
- One long-lived ``docker exec`` per container and event loop runs sandbox/docker/program_init.py as
  root; it serves the container's programs one after another (an exec plus an interpreter start cost
  ~180 ms per program here otherwise). Every program gets a fresh sandbox inside the warm container:
  new PID, mount, IPC, UTS and network namespaces (abstract unix sockets are per network namespace), a
  fresh /proc, empty size- and inode-capped tmpfs on /tmp and /dev/shm, its own /dev/mqueue, SysV
  limits, the seccomp filter of sandbox/seccomp.py, and the runner as PID 1 of that PID namespace with
  the capabilities of ``RUNNER_CAPS`` only. Test processes run under a
  fresh uid per program (``--child-uid``) and hold no capability, so the candidate can neither signal
  (PID 1), nor prlimit, renice or ptrace (other uid, undumpable) the runner: SE comes only from the
  runner's channel or the parent. When the runner exits, the kernel kills every process of its namespace
  and frees its mounts, segments and files: nothing of one program reaches the next (hostile-then-correct
  test in tests/sandbox/test_docker_isolation.py).
- Memory: the container's memory cgroup (``mem_limit`` = ``memswap_limit``) counts shmem, tmpfs and memfd
  pages too. The candidate's address space is RLIMIT_AS = ``memory_mb`` and what it can hold outside any
  process (tmpfs /tmp, /dev/shm, SysV segments) is capped to at most ``memory_mb`` in total, so the
  ``RUNNER_HEADROOM_MB`` above it stays for the runner. pids: ``pids_limit``.
- Container PID 1 is a tiny reaper ("keeper") running as nobody. Each program's set-up first checks the
  container is clean (no process but PID 1 and itself, no shmem, little anonymous memory); after the
  program it reports again (and the cgroup's OOM-kill count: SIGKILLed tests are then MLE). An unclean container is destroyed; a program never runs in one (it is retried on a
  fresh container, so its verdict cannot depend on what ran before).
- The runner's and the set-up's sources are streamed in by each exec (nothing to bake into the image), so
  any image with ``python3`` works: ``sandbox/docker/Dockerfile`` or the debootstrap image built by
  ``sandbox/docker/build_image.py``.
- Hardening per container: no network, read-only root, all capabilities dropped except
  ``CONTAINER_CAPS`` (the set-up's), docker's default seccomp profile, no-new-privileges,
  keeper as uid 65534 (it drops root itself), nofile / fsize / core ulimits. bwrap is never nested inside.
- Pool hygiene: one program per container at a time; recycle after ``recycle_after`` programs, or at once
  on a runner error or an unclean report.

Docker SDK calls are blocking: they run in worker threads, never on the event loop.
Depends on: the ``docker`` SDK (>= 7) and a reachable daemon.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import json
import os
import random
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass

from sandbox import seccomp
from sandbox.backend import RUNNER_PATH, SANDBOX_ENV, Backend
from sandbox.session import RunnerOutcome, drive_runner
from sandbox.types import IsolationUnavailable, Limits, TestSpec

DEFAULT_IMAGE = "g2rl-verl-sandbox:debootstrap"
CONTAINER_LABEL = "g2rl-verl.sandbox"
WORKDIR = "/tmp"  # also HOME: the runner empties it after every test
PROGRAM_INIT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "docker", "program_init.py")
RUNNER_HEADROOM_MB = 128  # memory cgroup headroom over the candidate's memory_mb for runner + keeper
EXTRA_PIDS = 8  # keeper, set-up, runner and docker-exec helpers on top of the candidate's cap
# Candidate uids: fresh per program, drawn from a range disjoint from the local backend's leases.
CHILD_UID_BASE = 2_000_000_000
CHILD_UID_COUNT = 1 << 24
# Capability numbers (linux/capability.h)
CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_KILL, CAP_SETGID, CAP_SETUID = 1, 3, 5, 6, 7
CAP_SYS_PTRACE, CAP_SYS_ADMIN = 19, 21
# The runner's: switch the tests' uid, kill them, empty their files (DAC_OVERRIDE, FOWNER), read their
# /proc/<pid>/smaps_rollup for the tree memory limit (SYS_PTRACE), remove their SysV objects (SYS_ADMIN).
RUNNER_CAPS = (CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SYS_PTRACE, CAP_SYS_ADMIN)
# The container's: the runner's plus CHOWN (the set-up hands /dev/mqueue to the tests' uid) and SYS_NICE
# (the set-up gives the runner nice -10, reset to 0 for the tests on fork).
CONTAINER_CAPS = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETGID", "SETUID", "SYS_NICE", "SYS_PTRACE",
                  "SYS_ADMIN")
# Emptied by the runner after every test, besides WORKDIR (the program's fresh IPC namespace: SysV too).
SCRATCH_DIRS = ["/dev/shm", "/dev/mqueue"]
CLEAN_SHMEM_BYTES = 1 << 20  # what a clean container (keeper + set-up, no program) may still hold
CLEAN_ANON_BYTES = 64 << 20  # keeper + set-up interpreters: about 8 MiB measured
TMPFS_INODES = 16384  # per tmpfs: a million empty files would cost ~1 GiB of kernel memory and a long wipe
_HELLO, _END = b"G2RL", b"G2RE"


def candidate_memory_split(limits: Limits) -> dict:
    """What the candidate may hold outside its processes, in MiB: tmpfs /tmp, tmpfs /dev/shm and SysV
    segments together stay within memory_mb, so the cgroup headroom above it is the runner's."""
    rest = max(8, int(limits.memory_mb) - int(limits.tmpfs_mb))
    return {"tmpfs_mb": int(limits.tmpfs_mb), "shm_mb": rest // 2, "sysv_mb": rest // 2}


def ipc_sysctls(sysv_mb: int) -> dict:
    """SysV limits of a fresh IPC namespace (its defaults allow almost unlimited shared memory)."""
    return {"shmmax": sysv_mb << 20, "shmall": (sysv_mb << 20) // 4096, "shmmni": 64, "msgmni": 32}


# PID 1 of every container: drop to nobody (no capabilities), then reap forever, never exit. The container
# itself runs as root only so that each program's set-up, exec'd as root, receives the container's
# capabilities (docker gives an exec none when the container's user is not root).
KEEPER = (
    "import os, signal\n"
    "os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)\n"
    "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})\n"
    "while True:\n"
    "    signal.sigwait({signal.SIGCHLD})\n"
    "    while True:\n"
    "        try:\n"
    "            if os.waitpid(-1, os.WNOHANG)[0] == 0: break\n"
    "        except ChildProcessError: break\n"
)


@dataclass(frozen=True)
class DockerOptions:
    image: str = DEFAULT_IMAGE
    pool_size: int = 0  # 0 -> os.cpu_count()
    recycle_after: int = 64  # programs per container before it is replaced
    nano_cpus: int = 1_000_000_000  # one CPU per container
    runtime: str | None = None  # e.g. "runsc" for gVisor
    python: str = "python3"
    pool_id: str = ""  # label value of this pool's containers (set per backend instance)
    # Docker's AppArmor profile (docker-default) denies mount(), which the per-program set-up needs; set
    # from the daemon's SecurityOptions: the containers then run AppArmor-unconfined (caps, seccomp and
    # namespaces still confine them), and `isolation` says so.
    apparmor_unconfined: bool = False

    def validate(self) -> DockerOptions:
        if self.pool_size < 0:
            raise ValueError(f"DockerOptions.pool_size must be >= 0 (0 = cpu count), got {self.pool_size}")
        if self.recycle_after < 1:
            raise ValueError(f"DockerOptions.recycle_after must be >= 1, got {self.recycle_after}")
        if self.nano_cpus < 10_000_000:
            raise ValueError(f"DockerOptions.nano_cpus must be >= 1e7 (0.01 CPU), got {self.nano_cpus}")
        return self


def options_pool_id(options: "DockerOptions") -> str:
    return options.pool_id or "unowned"


def container_config(options: DockerOptions, limits: Limits) -> dict:
    """docker-py ``containers.run`` keyword arguments: every hardening flag (docs/sandbox.md, docker)."""
    import docker.types

    mem = f"{limits.memory_mb + RUNNER_HEADROOM_MB}m"
    config = dict(
        image=options.image,
        command=[options.python, "-I", "-S", "-c", KEEPER],
        detach=True,
        network_mode="none",
        read_only=True,
        shm_size="1m",  # the container's own /dev/shm is never used: each program mounts its own
        pids_limit=limits.pids + EXTRA_PIDS,
        mem_limit=mem,
        memswap_limit=mem,  # equal: no swap
        nano_cpus=options.nano_cpus,
        cap_drop=["ALL"],
        cap_add=list(CONTAINER_CAPS),  # for the per-program set-up (root); tests hold none
        security_opt=["no-new-privileges"] + (["apparmor=unconfined"] if options.apparmor_unconfined else []),
        user="0:0",  # see KEEPER
        environment={**SANDBOX_ENV, "HOME": "/tmp"},
        working_dir="/",
        hostname="sandbox",  # docker always exports HOSTNAME: make it say nothing about the host
        ulimits=[docker.types.Ulimit(name="nofile", soft=limits.nofile + 16, hard=limits.nofile + 16),
                 docker.types.Ulimit(name="fsize", soft=limits.fsize_mb << 20, hard=limits.fsize_mb << 20),
                 docker.types.Ulimit(name="core", soft=0, hard=0)],
        labels={CONTAINER_LABEL: options_pool_id(options)},
        stdin_open=False,
    )
    if options.runtime:
        config["runtime"] = options.runtime
    return config


def program_init_params(limits: Limits, child_uid: int) -> dict:
    """The JSON argument of sandbox/docker/program_init.py for one program."""
    split = candidate_memory_split(limits)
    return {"uid": child_uid, "nr_inodes": TMPFS_INODES, "clean_shmem_bytes": CLEAN_SHMEM_BYTES,
            "tmpfs_mb": split["tmpfs_mb"],
            "shm_mb": split["shm_mb"], "ipc_sysctls": ipc_sysctls(split["sysv_mb"]),
            "runner_caps": list(RUNNER_CAPS),
            "runner_args": ["--child-uid", str(child_uid), "--child-gid", str(child_uid)]}


class _Session:
    """The long-lived exec of sandbox/docker/program_init.py in one container: its stream, bound to the
    event loop that opened it."""

    def __init__(self, loop, exec_id: str, sock: socket.socket, writer: asyncio.StreamWriter,
                 stdout: asyncio.StreamReader, stderr_tail: bytearray, demux: asyncio.Future):
        self.loop, self.exec_id, self.sock, self.writer = loop, exec_id, sock, writer
        self.stdout, self.stderr_tail, self.demux = stdout, stderr_tail, demux

    def stderr_text(self, keep: int = 500) -> str:
        return bytes(self.stderr_tail[-keep:]).decode("utf-8", "replace")

    def close_socket(self) -> None:
        """Ends program_init (a JSON null instead of parameters) and closes the stream. Works from any
        thread or loop, even after the session's loop was closed."""
        try:
            self.sock.setblocking(True)
            self.sock.settimeout(1.0)
            self.sock.sendall(_blob(b"null"))
        except OSError:
            pass  # already gone: closing is enough
        try:
            self.sock.close()
        except OSError:
            pass


class _Slot:
    """One warm container."""

    def __init__(self, container, key):
        self.container = container
        self.key = key
        self.uses = 0
        self.session: _Session | None = None


class DockerBackend(Backend):
    name = "docker"

    def __init__(self, image: str = DEFAULT_IMAGE, *, pool_size: int = 0, recycle_after: int = 64,
                 nano_cpus: int = 1_000_000_000, runtime: str | None = None, client=None):
        self.options = DockerOptions(image, pool_size, recycle_after, nano_cpus, runtime,
                                     pool_id=f"pool-{os.getpid()}-{uuid.uuid4().hex[:8]}").validate()
        if client is None:
            try:
                import docker
            except ImportError as e:
                raise IsolationUnavailable("the docker backend needs the docker SDK: pip install 'docker>=7'") from e
            try:
                client = docker.from_env()
                client.ping()
            except Exception as e:  # noqa: BLE001 - any failure here means "no daemon"
                raise IsolationUnavailable(f"cannot reach the Docker daemon ({e}); start dockerd or use "
                                           f"backend='local'") from None
            try:
                client.images.get(image)
            except Exception as e:  # noqa: BLE001
                raise IsolationUnavailable(
                    f"docker image {image!r} is not present ({e}); build it with "
                    f"`python sandbox/docker/build_image.py` or `docker build -f sandbox/docker/Dockerfile`"
                ) from None
        self.client = client
        if _daemon_has_apparmor(client):
            self.options = dataclasses.replace(self.options, apparmor_unconfined=True)
        with open(RUNNER_PATH, "rb") as f:
            self._runner_src = f.read()
        with open(PROGRAM_INIT_PATH, encoding="utf-8") as f:
            self._program_init_src = f.read()
        self._seccomp = seccomp.build_filter() if seccomp.supported() else b""
        self._size = self.options.pool_size or os.cpu_count() or 1
        self._idle: list[_Slot] = []
        self._live: dict[str, _Slot] = {}  # every container of this pool, idle or busy
        # containers must not outlive the process, even when the caller forgets close() or crashes
        atexit.register(self.close)
        self._sem: asyncio.Semaphore | None = None
        self._loop = None
        self.last_unclean: dict | None = None  # the last set-up report that retired a container
        self.stats = {"created": 0, "recycled": 0, "anomalies": 0, "unclean": 0, "retried": 0, "sessions": 0}

    @property
    def isolation(self) -> str:
        runtime = self.options.runtime or "runc"
        filt = "seccomp" if self._seccomp else "no seccomp filter (unsupported architecture)"
        if self.options.apparmor_unconfined:
            filt += ", AppArmor unconfined (docker-default denies the set-up's mounts)"
        return (f"docker-{runtime}: warm container, per-program PID/mount/IPC/UTS/net namespaces with the runner "
                f"as PID 1 (uid 0, {len(RUNNER_CAPS)} capabilities), tests under a fresh uid without capabilities, "
                f"{filt}, ro root, memory+pids cgroup")

    # ------------------------------------------------------------------------------------------
    # pool

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._loop is not loop:  # one semaphore per event loop
            self._sem, self._loop = asyncio.Semaphore(self._size), loop
        return self._sem

    @staticmethod
    def _key(limits: Limits) -> tuple:
        """Container-level limits; containers are only reused for programs with the same ones."""
        return (limits.memory_mb, limits.pids, limits.tmpfs_mb, limits.nofile, limits.fsize_mb)

    async def _acquire(self, limits: Limits) -> _Slot:
        key = self._key(limits)
        for i, slot in enumerate(self._idle):
            if slot.key == key:
                return self._idle.pop(i)
        if len(self._idle) >= self._size:  # idle containers of other limits hold the budget: drop one
            await self._destroy(self._idle.pop(0))
        container = await asyncio.to_thread(self.client.containers.run,
                                            **container_config(self.options, limits))
        self.stats["created"] += 1
        slot = _Slot(container, key)
        self._live[container.id] = slot
        return slot

    async def _destroy(self, slot: _Slot) -> None:
        self.stats["recycled"] += 1
        self._live.pop(slot.container.id, None)
        if slot.session is not None:
            slot.session.close_socket()
        try:
            await asyncio.to_thread(slot.container.remove, force=True)
        except Exception:  # noqa: BLE001 - already gone is fine
            pass

    def _discard(self, slot: _Slot) -> None:
        """Removes a container without awaiting (usable while being cancelled)."""
        self.stats["recycled"] += 1
        self._live.pop(slot.container.id, None)
        if slot.session is not None:
            slot.session.close_socket()
        threading.Thread(target=_remove_quietly, args=(slot.container,), daemon=True).start()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Synchronous clean-up: removes every container of this pool (idle or busy). Idempotent."""
        self._idle = []
        live, self._live = list(self._live.values()), {}
        for slot in live:
            if slot.session is not None:
                slot.session.close_socket()
            try:
                slot.container.remove(force=True)
            except Exception:  # noqa: BLE001 - already gone
                pass

    # ------------------------------------------------------------------------------------------
    # one program

    async def run_raw(self, program: str, spec: TestSpec, limits: Limits, stop=None) -> RunnerOutcome:
        """The runner's raw per-test records (full captured output), before judging."""
        async with self._semaphore():
            for _attempt in range(2):
                try:
                    slot = await self._acquire(limits)
                except Exception as e:  # noqa: BLE001 - the container could not start: infrastructure
                    return RunnerOutcome([None] * spec.n_tests, error=f"cannot start a container: {e}")
                try:
                    outcome, healthy, ran = await self._run(slot, program, spec, limits, stop)
                except BaseException:  # cancelled mid-program: the container is in an unknown state
                    self._discard(slot)
                    raise
                slot.uses += 1
                if healthy and slot.uses < self.options.recycle_after:
                    self._idle.append(slot)
                else:
                    self.stats["anomalies"] += not healthy
                    await self._destroy(slot)
                if ran:
                    return outcome
                self.stats["retried"] += 1  # the container was not clean: never run there, use a fresh one
        return outcome

    async def _session(self, slot: _Slot) -> _Session:
        """The container's program_init exec for the running event loop (a new loop, e.g. the next
        asyncio.run, needs a new stream: the old exec is ended first, so that it is not a leftover)."""
        loop = asyncio.get_running_loop()
        old = slot.session
        if old is not None and old.loop is loop and not old.demux.done():
            return old
        slot.session = None
        if old is not None:
            old.close_socket()
            await asyncio.to_thread(_wait_exec_end, self.client.api, old.exec_id, 5.0)
        api = self.client.api
        exec_id = (await asyncio.to_thread(
            api.exec_create, slot.container.id, [self.options.python, "-I", "-S", "-c", self._program_init_src],
            stdin=True, stdout=True, stderr=True, user="0:0", workdir="/"))["Id"]
        raw = await asyncio.to_thread(api.exec_start, exec_id, socket=True)
        sock: socket.socket = getattr(raw, "_sock", raw)
        sock.setblocking(False)
        reader_raw, writer = await asyncio.open_connection(sock=sock)
        stdout = asyncio.StreamReader(limit=1 << 22)
        stderr_tail = bytearray()
        demux = asyncio.ensure_future(_demux(reader_raw, stdout, stderr_tail))
        writer.write(_blob(self._runner_src) + _blob(self._seccomp))
        slot.session = _Session(loop, exec_id, sock, writer, stdout, stderr_tail, demux)
        self.stats["sessions"] += 1
        return slot.session

    async def _run(self, slot: _Slot, program: str, spec: TestSpec, limits: Limits,
                   stop=None) -> tuple[RunnerOutcome, bool, bool]:
        """(outcome, container still healthy, program ran)."""
        try:
            session = await self._session(slot)
        except Exception as e:  # noqa: BLE001
            return RunnerOutcome([None] * spec.n_tests, error=f"docker exec failed: {e}"), False, True

        def failed(message: str, ran: bool = True) -> tuple[RunnerOutcome, bool, bool]:
            detail = f"{message}; set-up stderr: {session.stderr_text()}"
            return RunnerOutcome([None] * spec.n_tests, error=detail), False, ran

        child_uid = CHILD_UID_BASE + random.randrange(CHILD_UID_COUNT)
        session.writer.write(_blob(json.dumps(program_init_params(limits, child_uid)).encode()))
        hello = await _read_message(session.stdout, _HELLO, 30.0)
        if hello is None:
            return failed("container set-up did not greet")
        if hello.get("survivors") or not _clean(hello):
            self.stats["unclean"] += 1
            self.last_unclean = {"when": "before", **hello}
            return failed(f"container not clean before the program: {hello}", ran=False)
        outcome = await drive_runner(session.stdout, session.writer, program, spec, limits, workdir=WORKDIR,
                                     sys_path=[], nproc=None, scratch_dirs=SCRATCH_DIRS, private_ipc=True,
                                     stop=stop)
        healthy = outcome.error is None
        # the namespace is gone: is the container back to clean, and did its OOM killer fire?
        end = await _read_message(session.stdout, _END, 10.0 if healthy else 1.0, skip_frames=1)
        if end is not None and (end.get("oom_kill") or 0) > (hello.get("oom_kill") or 0):
            outcome.oom_killed = True  # SIGKILLed tests are MLE (sandbox/session.py)
        if healthy and not _clean(end):
            self.stats["unclean"] += 1
            self.last_unclean = {"when": "after", **(end or {})}
            healthy = False
        outcome.runner_stderr = session.stderr_text(8192)
        return outcome, healthy, True


def _remove_quietly(container) -> None:
    try:
        container.remove(force=True)
    except Exception:  # noqa: BLE001 - already gone
        pass


def _wait_exec_end(api, exec_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not api.exec_inspect(exec_id).get("Running"):
                return
        except Exception:  # noqa: BLE001 - gone with its container
            return
        time.sleep(0.01)


def _clean(report: dict | None) -> bool:
    """A set-up report (before or after a program) says: no other process, no shared memory, no memory
    held by anything but the keeper and the set-up."""
    return (report is not None and not report.get("left")
            and (report.get("shmem") or 0) <= CLEAN_SHMEM_BYTES and (report.get("anon") or 0) <= CLEAN_ANON_BYTES)


def _daemon_has_apparmor(client) -> bool:
    try:
        options = client.info().get("SecurityOptions") or []
    except Exception:  # noqa: BLE001 - a test double or an old daemon: assume none
        return False
    return any("apparmor" in str(o) for o in options)


def _blob(data: bytes) -> bytes:
    return struct.pack(">Q", len(data)) + data


async def _read_message(stdout: asyncio.StreamReader, magic: bytes, timeout: float,
                        skip_frames: int = 0) -> dict | None:
    """One program_init message (magic, length, JSON object), after at most `skip_frames` runner frames
    nobody reads (the runner's final "done"); None if it is missing or malformed."""
    try:
        for _ in range(skip_frames + 1):
            head = await asyncio.wait_for(stdout.readexactly(8), timeout)
            (n,) = struct.unpack(">I", head[4:] if head[:4] == magic else head[:4])
            if n > 1 << 16:
                return None
            body = await asyncio.wait_for(stdout.readexactly(n - (0 if head[:4] == magic else 4)), timeout)
            if head[:4] == magic:
                obj = json.loads(body)
                return obj if isinstance(obj, dict) else None
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
        return None
    return None


async def _demux(reader: asyncio.StreamReader, stdout: asyncio.StreamReader, stderr_tail: bytearray,
                 keep: int = 8192) -> None:
    """Splits docker's multiplexed exec stream (8-byte headers: stream id, size) into stdout / stderr."""
    try:
        while True:
            header = await reader.readexactly(8)
            stream, size = header[0], struct.unpack(">I", header[4:])[0]
            data = await reader.readexactly(size)
            if stream == 1:
                stdout.feed_data(data)
            elif stream == 2:
                stderr_tail += data
                del stderr_tail[:-keep]
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        pass
    finally:
        stdout.feed_eof()
