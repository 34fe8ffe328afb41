"""Backend interface, and the shared machinery of backends that run sandbox/runner.py as a subprocess.

To add a backend: subclass Backend (or SubprocessRunnerBackend when the runner is started by a command
line) and add one line to sandbox/api.py's BACKENDS registry. docs/sandbox.md, "Adding a backend".
"""

from __future__ import annotations

import abc
import asyncio
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from sandbox.fanout import evaluate_tests
from sandbox.session import RawResult, RunnerOutcome, drive_runner
from sandbox.types import Limits, ProgramResult, TestSpec

RUNNER_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runner.py")
RUNNER_STDERR_KEEP = 8192

# The whole environment of the sandbox (plus HOME, and PWD which bwrap always sets to the working
# directory); docs/sandbox.md, "Fidelity: what a program sees".
SANDBOX_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def real_interpreter() -> str:
    """The real interpreter binary behind sys.executable (no venv/pyenv shims: ~45 ms each spawn)."""
    import sys

    path = os.path.realpath(sys.executable)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"cannot execute the interpreter {path!r} (resolved from sys.executable)")
    return path


class Backend(abc.ABC):
    """Evaluates one program against its tests. Implementations must be safe to call concurrently from
    one event loop, and must never block it."""

    name: str = "abstract"
    # After a test ends at the wall cap, the program's remaining tests run as up to this many shards in
    # parallel sandboxes, and the backend runs at most this many shards at once (sandbox/fanout.py); 0 keeps
    # every program in one sandbox.
    wall_tle_fanout: int = 8

    @property
    @abc.abstractmethod
    def isolation(self) -> str:
        """Human-readable isolation level, included in every result."""

    async def evaluate(self, program: str, spec: TestSpec, limits: Limits, compare: str) -> ProgramResult:
        """Runs and judges every test (backends that run sandbox/runner.py; a remote service overrides)."""
        t0 = time.monotonic()
        tests = await evaluate_tests(self, program, spec, limits, compare)
        return ProgramResult(tests=tests, backend=self.name, isolation=self.isolation,
                             wall_s=round(time.monotonic() - t0, 6))

    async def run_raw(self, program: str, spec: TestSpec, limits: Limits,
                      stop: Callable[[RawResult], bool] | None = None) -> RunnerOutcome:
        """The runner's raw per-test records (complete stdout up to the output cap), before judging.
        For callers that need more than TestRecord's head/tail, e.g. the SandboxFusion /run_code API.
        `stop`: see session.drive_runner. Backends that do not run sandbox/runner.py (a remote service)
        cannot offer it."""
        raise NotImplementedError(f"backend {self.name!r} does not expose raw runner records")

    async def aclose(self) -> None:  # pools and clients release their resources here
        return None


class SubprocessRunnerBackend(Backend):
    """Starts the runner with a command line (bwrap, plain python, ...) and drives it over pipes."""

    @abc.abstractmethod
    def _runner_command(self, limits: Limits, lease: Any) -> tuple[list[str], dict[str, Any]]:
        """argv and extra Popen keyword arguments for one sandbox."""

    def _acquire(self, limits: Limits) -> Any:  # per-sandbox resources (uid, dir, cgroup); released after
        return None

    def _release(self, lease: Any) -> None:
        return None

    def _observe(self, lease: Any, outcome: RunnerOutcome) -> None:
        """Adds the parent's own evidence about the finished sandbox (e.g. cgroup OOM kills) to `outcome`."""
        return None

    def _session_options(self, lease: Any, limits: Limits) -> dict[str, Any]:
        """Keyword arguments of drive_runner: workdir, sys_path, nproc, scratch_dirs, private_ipc."""
        raise NotImplementedError

    async def run_raw(self, program: str, spec: TestSpec, limits: Limits,
                      stop: Callable[[RawResult], bool] | None = None) -> RunnerOutcome:
        try:
            lease = self._acquire(limits)
        except OSError as e:  # the parent's own failure (uid pool, cgroup): SE, never the candidate's
            return RunnerOutcome([None] * spec.n_tests, error=f"cannot prepare the sandbox: {e}")
        try:
            outcome = await self._run(program, spec, limits, lease, stop)
            self._observe(lease, outcome)
            return outcome
        finally:
            self._release(lease)

    async def _run(self, program: str, spec: TestSpec, limits: Limits, lease: Any,
                   stop: Callable[[RawResult], bool] | None = None) -> RunnerOutcome:
        argv, popen_kwargs = self._runner_command(limits, lease)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, limit=1 << 22, **popen_kwargs,
            )
        except OSError as e:
            return RunnerOutcome([None] * spec.n_tests, error=f"cannot start the sandbox: {e}")
        stderr_task = asyncio.ensure_future(_tail(proc.stderr, RUNNER_STDERR_KEEP))
        try:
            outcome = await drive_runner(proc.stdout, proc.stdin, program, spec, limits, stop=stop,
                                         **self._session_options(lease, limits))
        except BaseException:  # cancelled: the sandbox must not outlive its caller
            _kill(proc)
            stderr_task.cancel()
            raise
        # Normal end: the runner exits by itself after "done"; anything else is killed. Closing its
        # control pipe as well makes a runner that somehow outlived bwrap exit at its next read.
        if outcome.error is not None:
            _kill(proc)
        _close(proc.stdin)
        try:
            await asyncio.wait_for(proc.wait(), 5.0)
        except asyncio.TimeoutError:
            _kill(proc)
            await proc.wait()
        try:
            stderr_text = await asyncio.wait_for(stderr_task, 2.0)
        except asyncio.TimeoutError:
            stderr_text = "(runner stderr still open 2 s after the sandbox ended)"
        outcome.runner_stderr = stderr_text
        if outcome.error is None and proc.returncode not in (0, None):
            outcome.extra["runner_exit"] = proc.returncode
        return outcome


def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        try:
            writer.close()
        except (OSError, RuntimeError):
            pass


def _children_of(pid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat[stat.rfind(b")") + 2:].split()[1]) == pid:
            out.append(int(name))
    return out


def _kill(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the sandbox: first bwrap's child (the runner, init of the sandbox's PID namespace, whose
    death kills every process in it), then bwrap. Killing bwrap alone is not enough: the kernel does not
    deliver --die-with-parent's parent-death signal to a namespace init (measured on 6.18)."""
    if proc.returncode is not None:
        return
    for child in _children_of(proc.pid):
        try:
            os.kill(child, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        proc.send_signal(signal.SIGKILL)
    except ProcessLookupError:
        pass


async def _tail(stream: asyncio.StreamReader, keep: int) -> str:
    buf = bytearray()
    while True:
        chunk = await stream.read(1 << 16)
        if not chunk:
            break
        buf += chunk
        if len(buf) > keep:
            del buf[: len(buf) - keep]
    return buf.decode("utf-8", "replace")
