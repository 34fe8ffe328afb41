"""Docker backend: a warm pool of hardened containers, one program at a time per container (spec §9).

Why it looks like this
- ``docker exec`` has no timeout and the Engine API cannot kill an exec (docker-py#2651,
  moby#35703). So every program's limits are enforced INSIDE the container by the trusted runner
  (sandbox/runner.py, the same one the local backend uses), and the parent only keeps a deadline on
  every answer (sandbox/session.py). A runner that misses it, or any other anomaly, gets the whole
  container destroyed (``remove(force=True)`` SIGKILLs every process in it) and the tests SE.
- Container PID 1 is a tiny reaper ("keeper") instead of ``sleep``: ``kill(-1, SIGKILL)`` from any
  exec then reaches every process of the container except PID 1, so each program starts with a
  bootstrap that kills whatever a previous program left behind and wipes ``/tmp``. The runner is not
  PID 1 here, so *within* one program it falls back to killing each test's session (a ``setsid``
  escapee survives until the program ends, not longer); the pid cap and memory cgroup still hold.
- The runner's source is streamed in on each exec (no bind mount, nothing to bake into the image), so
  any image with ``python3`` works: ``sandbox/docker/Dockerfile`` or the debootstrap image built by
  ``sandbox/docker/build_image.py``.
- Hardening per container: no network, read-only root, size-capped tmpfs ``/tmp`` (the only writable
  place), pids / memory (= memory+swap) / CPU limits, all capabilities dropped, no-new-privileges,
  uid 65534, nofile / fsize / core ulimits. bwrap is never nested inside (it fails in unprivileged
  containers).
- Pool hygiene: one program per container at a time; recycle after ``recycle_after`` programs, or at
  once on a runner error, a non-zero runner exit, or leftovers found by the next bootstrap.

Docker SDK calls are blocking: they run in worker threads, never on the event loop.
Depends on: the ``docker`` SDK (>= 7) and a reachable daemon.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import uuid
import socket
import struct
import time
from dataclasses import dataclass

from sandbox.backend import RUNNER_PATH, SANDBOX_ENV, Backend
from sandbox.session import RunnerOutcome, drive_runner, judge_outcome
from sandbox.types import IsolationUnavailable, Limits, ProgramResult, TestSpec

DEFAULT_IMAGE = "g2rl-verl-sandbox:debootstrap"
CONTAINER_LABEL = "g2rl-verl.sandbox"
WORKDIR = "/tmp/w"
RUNNER_HEADROOM_MB = 128  # memory cgroup headroom over the candidate's RLIMIT_AS for runner + keeper
EXTRA_PIDS = 8  # keeper, bootstrap/runner and docker-exec helpers on top of the candidate's cap
_MAGIC = b"G2RL"

# PID 1 of every container: reap forever, never exit (kill(-1) from inside cannot reach PID 1).
KEEPER = (
    "import os, signal\n"
    "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})\n"
    "while True:\n"
    "    signal.sigwait({signal.SIGCHLD})\n"
    "    while True:\n"
    "        try:\n"
    "            if os.waitpid(-1, os.WNOHANG)[0] == 0: break\n"
    "        except ChildProcessError: break\n"
)

# Each program's exec: kill leftovers of earlier programs, wipe /tmp, report how many processes were
# left, read the runner source from stdin (exact-length reads on fd 0: the runner reads the rest of
# fd 0 itself) and run it as __main__.
BOOTSTRAP = (
    "import os, signal, struct, shutil, time\n"
    "me = os.getpid()\n"
    "def others():\n"
    "    n = 0\n"
    "    for p in os.listdir('/proc'):\n"
    "        if p.isdigit() and int(p) not in (1, me):\n"
    "            try:\n"
    "                st = open('/proc/%s/stat' % p, 'rb').read()\n"
    "            except OSError:\n"
    "                continue\n"
    "            if st[st.rfind(b')') + 2:][:1] != b'Z': n += 1\n"
    "    return n\n"
    "left = others()\n"
    "try:\n"
    "    os.kill(-1, signal.SIGKILL)\n"
    "except ProcessLookupError:\n"
    "    pass\n"
    "deadline = time.monotonic() + 2\n"
    "while others() and time.monotonic() < deadline:\n"
    "    time.sleep(0.005)\n"
    "for e in os.scandir('/tmp'):\n"
    "    shutil.rmtree(e.path, ignore_errors=True) if e.is_dir(follow_symlinks=False) else os.unlink(e.path)\n"
    f"os.makedirs({WORKDIR!r}, exist_ok=True)\n"
    # the image's site-packages (numpy & co.) without running site.main(): no .pth files, no user site
    "import site, sys\n"
    "sys.path += [p for p in site.getsitepackages() if os.path.isdir(p) and p not in sys.path]\n"
    "os.write(1, b'G2RL' + struct.pack('>I', left + 1000 * others()))\n"
    "def rd(n):\n"
    "    b = b''\n"
    "    while len(b) < n:\n"
    "        c = os.read(0, n - len(b))\n"
    "        if not c: raise SystemExit(3)\n"
    "        b += c\n"
    "    return b\n"
    "src = rd(struct.unpack('>Q', rd(8))[0])\n"
    "exec(compile(src, 'runner.py', 'exec'), {'__name__': '__main__', '__builtins__': __builtins__})\n"
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
    """docker-py ``containers.run`` keyword arguments: every hardening flag of spec §9."""
    import docker.types

    mem = f"{limits.memory_mb + RUNNER_HEADROOM_MB}m"
    config = dict(
        image=options.image,
        command=[options.python, "-I", "-S", "-c", KEEPER],
        detach=True,
        network_mode="none",
        read_only=True,
        tmpfs={"/tmp": f"size={limits.tmpfs_mb}m,mode=1777,nosuid,nodev"},
        pids_limit=limits.pids + EXTRA_PIDS,
        mem_limit=mem,
        memswap_limit=mem,  # equal: no swap
        nano_cpus=options.nano_cpus,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        user="65534:65534",
        environment={**SANDBOX_ENV, "HOME": "/tmp"},
        working_dir="/tmp",
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


class _Slot:
    """One warm container."""

    def __init__(self, container, key):
        self.container = container
        self.key = key
        self.uses = 0


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
        with open(RUNNER_PATH, "rb") as f:
            self._runner_src = f.read()
        self._size = self.options.pool_size or os.cpu_count() or 1
        self._idle: list[_Slot] = []
        self._live: dict[str, _Slot] = {}  # every container of this pool, idle or busy
        # containers must not outlive the process, even when the caller forgets close() or crashes
        atexit.register(self.close)
        self._sem: asyncio.Semaphore | None = None
        self._loop = None
        self.stats = {"created": 0, "recycled": 0, "anomalies": 0, "leftovers_killed": 0}

    @property
    def isolation(self) -> str:
        runtime = self.options.runtime or "runc"
        return f"docker-{runtime}: container per program slot, net none, ro root, caps dropped, uid 65534"

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
        try:
            await asyncio.to_thread(slot.container.remove, force=True)
        except Exception:  # noqa: BLE001 - already gone is fine
            pass

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Synchronous clean-up: removes every container of this pool (idle or busy). Idempotent."""
        self._idle = []
        live, self._live = list(self._live.values()), {}
        for slot in live:
            try:
                slot.container.remove(force=True)
            except Exception:  # noqa: BLE001 - already gone
                pass

    # ------------------------------------------------------------------------------------------
    # one program

    async def evaluate(self, program: str, spec: TestSpec, limits: Limits, compare: str) -> ProgramResult:
        t0 = time.monotonic()
        outcome = await self.run_raw(program, spec, limits)
        tests = judge_outcome(outcome, spec, limits, compare)
        return ProgramResult(tests=tests, backend=self.name, isolation=self.isolation,
                             wall_s=round(time.monotonic() - t0, 6))

    async def run_raw(self, program: str, spec: TestSpec, limits: Limits) -> RunnerOutcome:
        """The runner's raw per-test records (full captured output), before judging."""
        async with self._semaphore():
            try:
                slot = await self._acquire(limits)
            except Exception as e:  # noqa: BLE001 - the container could not start: infrastructure
                return RunnerOutcome([None] * spec.n_tests, error=f"cannot start a container: {e}")
            outcome, healthy = await self._run(slot, program, spec, limits)
            slot.uses += 1
            if healthy and slot.uses < self.options.recycle_after:
                self._idle.append(slot)
            else:
                self.stats["anomalies"] += not healthy
                await self._destroy(slot)
        return outcome

    async def _run(self, slot: _Slot, program: str, spec: TestSpec, limits: Limits) -> tuple[RunnerOutcome, bool]:
        api = self.client.api
        try:
            exec_id = (await asyncio.to_thread(
                api.exec_create, slot.container.id, [self.options.python, "-I", "-S", "-c", BOOTSTRAP],
                stdin=True, stdout=True, stderr=True, user="65534:65534", workdir="/tmp"))["Id"]
            raw = await asyncio.to_thread(api.exec_start, exec_id, socket=True)
        except Exception as e:  # noqa: BLE001
            return RunnerOutcome([None] * spec.n_tests, error=f"docker exec failed: {e}"), False
        sock: socket.socket = getattr(raw, "_sock", raw)
        sock.setblocking(False)
        reader_raw, writer = await asyncio.open_connection(sock=sock)
        stdout = asyncio.StreamReader(limit=1 << 22)
        stderr_tail = bytearray()
        demux = asyncio.ensure_future(_demux(reader_raw, stdout, stderr_tail))
        healthy = True
        try:
            try:
                hello = await asyncio.wait_for(stdout.readexactly(8), 30.0)
            except (asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                return RunnerOutcome([None] * spec.n_tests, error=f"container bootstrap did not start: {e!r}; "
                                                                  f"stderr: {bytes(stderr_tail[-500:])!r}"), False
            if hello[:4] != _MAGIC:
                return RunnerOutcome([None] * spec.n_tests, error=f"bad bootstrap greeting {hello!r}"), False
            (left,) = struct.unpack(">I", hello[4:])
            if left:  # an earlier program left processes behind: they are dead now, but recycle anyway
                self.stats["leftovers_killed"] += left % 1000
                healthy = False
            if left >= 1000:  # some survived SIGKILL: do not trust this container at all
                return RunnerOutcome([None] * spec.n_tests, error="container could not be cleaned"), False
            writer.write(struct.pack(">Q", len(self._runner_src)) + self._runner_src)
            outcome = await drive_runner(stdout, writer, program, spec, limits, workdir=WORKDIR, sys_path=[],
                                         nproc=None)
            outcome.runner_stderr = bytes(stderr_tail).decode("utf-8", "replace")
            if outcome.error is not None:
                healthy = False
            return outcome, healthy
        finally:
            demux.cancel()
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ConnectionError, asyncio.CancelledError):
                pass
            try:
                await demux
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass


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
