"""Persistent math-verify worker processes with a hard, parent-enforced deadline per task.

Why not ProcessPoolExecutor: math-verify's own timeouts are SIGALRM-based and cannot interrupt a hung
`str()` of a sympy object or a long C-level computation; a ProcessPoolExecutor cannot kill a hung worker,
and killing one breaks the whole executor. Here every worker owns a socket; the calling thread sends one
task, waits with a deadline, and on expiry SIGKILLs that worker and starts a replacement. A worker that
dies mid-task (EOF) is replaced and the task retried once; a second crash is `error/worker_crash`.

Why plain subprocesses (`python -c ...` with the socket's fd inherited), not multiprocessing: both
`spawn` and `forkserver` re-import the caller's `__main__` in every worker, so a script without an
`if __name__ == "__main__":` guard re-runs itself in each worker (or dies with "An attempt has been made to
start a new process before the current process has finished its bootstrapping phase"), and `fork` is
unsafe from processes that already run threads (Ray actors, verl's reward loop). A subprocess imports only
`g2rl_verl.rewards.math_worker`; the caller's program is never imported.

Who caused a timeout: before touching the candidate's answer a worker checks the gold (parses and
self-verifies it) and reports `gold_ok` on the socket. A deadline that expires after `gold_ok` was the
candidate's doing; one that expires before it is not attributable to the candidate (a hung or overloaded
worker, or a gold that cannot be checked in time).

Start-up: a worker joins the idle queue only after it has imported math-verify, warmed up and said
`READY` (watched by a short-lived thread), so the deadline covers a task's time on a warm worker, never a
worker's start-up (seconds on a loaded box). Waiting for a free worker is bounded too: after
`acquire_timeout_s` the task is `error/pool_unavailable` (an infrastructure failure), e.g. when workers
cannot start at all; their own stderr says why.

Thread safety: `run` may be called from any number of threads at once; idle workers sit in a queue and
each is used by one thread at a time. asyncio callers use `run_async` (or run `run` in their own thread),
so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# Reply from a worker: (verdict, detail, pred, gold_ok), see math_worker.py. The parent never imports
# math_worker (nor sympy).
Reply = tuple[str, str, "str | None", bool]
GOLD_OK = "gold_ok"  # interim message: the gold parsed and self-verified; what follows is the candidate's
READY = "ready"  # first message of a worker, once warm
BOOT_TIMEOUT_S = 120.0  # generous: several workers importing sympy at once on a loaded 2-core box

_JOIN_TIMEOUT_S = 5.0
# Importable location of this package, for workers started from any working directory.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
# `-c` puts the caller's working directory first on sys.path; replace it with this package's root so
# nothing in that directory can shadow math_verify or sympy.
_WORKER_BOOT = (
    "import sys; sys.path[0] = sys.argv[2]; "
    "from g2rl_verl.rewards.math_worker import main; main(int(sys.argv[1]))"
)


@dataclass
class _Worker:
    process: subprocess.Popen
    conn: Connection


class MathVerifyPool:
    def __init__(self, size: int, acquire_timeout_s: float = 300.0) -> None:
        if size <= 0:
            raise ValueError(f"math pool size must be positive, got {size}")
        self.size = size
        self.acquire_timeout_s = acquire_timeout_s
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._closed = False
        self.n_replaced = 0  # observability: hung or crashed workers replaced so far
        self._executor = ThreadPoolExecutor(
            max_workers=max(16, 4 * size), thread_name_prefix="g2rl-math-wait"
        )
        self._spawn_lock = threading.Lock()  # one top-up at a time: never more than `size` workers
        self._ready = threading.Condition(self._lock)
        self.n_ready = 0  # workers that have said READY so far (tests wait on it)
        self._top_up()

    def wait_ready(self, n: int | None = None, timeout_s: float = BOOT_TIMEOUT_S) -> None:
        """Block until `n` (default: size) workers have ever become ready; raises TimeoutError."""
        with self._ready:
            if not self._ready.wait_for(lambda: self.n_ready >= (n or self.size), timeout_s):
                raise TimeoutError(f"math-verify workers not ready after {timeout_s} s")

    def _await_ready(self, worker: _Worker) -> None:
        try:
            ready = worker.conn.poll(BOOT_TIMEOUT_S) and worker.conn.recv() == READY
        except (EOFError, OSError):
            ready = False
        if not ready:  # its stderr (inherited) says why; the next `run` starts a replacement
            self._discard(worker, replaced=False)
            return
        with self._ready:
            self.n_ready += 1
            self._ready.notify_all()
        self._idle.put(worker)

    def _start_worker(self) -> _Worker:
        parent_sock, child_sock = socket.socketpair()
        child_fd = child_sock.fileno()
        process = subprocess.Popen(
            [sys.executable, "-c", _WORKER_BOOT, str(child_fd), _PACKAGE_ROOT],
            pass_fds=(child_fd,),
            stdin=subprocess.DEVNULL,
            close_fds=True,
        )
        child_sock.close()
        worker = _Worker(process, Connection(parent_sock.detach()))
        with self._lock:
            self._workers.append(worker)
        threading.Thread(target=self._await_ready, args=(worker,), name="g2rl-math-boot", daemon=True).start()
        return worker

    def _discard(self, worker: _Worker, replaced: bool = True) -> None:
        """SIGKILL and forget a worker; it is reaped in the background so the caller returns at once."""
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
            self.n_replaced += replaced
        try:
            worker.process.kill()
        finally:
            worker.conn.close()
        threading.Thread(target=worker.process.wait, name="g2rl-math-reap", daemon=True).start()

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._workers]

    def run(self, task: str, args: tuple, deadline_s: float) -> Reply:
        """Run one task; blocks the calling thread. Never raises for worker hangs or crashes.

        `deadline_s` counts from the moment a warm worker has the task (queueing is not counted)."""
        for _attempt in range(2):  # a crashed worker is replaced and the task retried once
            if self._closed:
                raise RuntimeError("MathVerifyPool is closed")
            self._top_up()  # a worker that failed to start is retried here, on demand, not in a loop
            try:
                worker = self._idle.get(timeout=self.acquire_timeout_s)
            except queue.Empty:
                return ("error", "pool_unavailable", None, False)
            gold_ok = False
            try:
                worker.conn.send((task, args))
                end = time.monotonic() + deadline_s
                while True:
                    if not worker.conn.poll(max(0.0, end - time.monotonic())):
                        self._replace(worker)
                        return ("timeout", "watchdog_timeout", None, gold_ok)
                    message = worker.conn.recv()
                    if message != GOLD_OK:
                        break
                    gold_ok = True
            except (EOFError, OSError):
                self._replace(worker)
                continue
            self._idle.put(worker)
            verdict, detail, pred, reply_gold_ok = message
            return (verdict, detail, pred, reply_gold_ok or gold_ok)
        return ("error", "worker_crash", None, False)

    def _replace(self, worker: _Worker) -> None:
        self._discard(worker)
        if not self._closed:
            self._top_up()

    def _top_up(self) -> None:
        with self._spawn_lock:
            with self._lock:
                missing = self.size - len(self._workers)
            for _ in range(missing):
                self._start_worker()

    async def run_async(self, task: str, args: tuple, deadline_s: float) -> Reply:
        return await self.in_thread(functools.partial(self.run, task, args, deadline_s))

    async def in_thread(self, fn: Callable[[], Any]) -> Any:
        """Run a blocking `fn` (which may call `run`) in this pool's waiting threads, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._workers)
            self._workers.clear()
        for worker in workers:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        for worker in workers:
            try:
                worker.process.wait(1.0)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait(_JOIN_TIMEOUT_S)
            worker.conn.close()
        self._executor.shutdown(wait=False, cancel_futures=True)


# One pool per (process, size): verl's reward-loop worker builds one manager per process, and every call
# in that process must share the same warm workers.
_POOLS: dict[tuple[int, int], MathVerifyPool] = {}
_POOLS_LOCK = threading.Lock()


def get_math_pool(size: int) -> MathVerifyPool:
    key = (os.getpid(), size)  # a forked child must not reuse its parent's sockets
    pool = _POOLS.get(key)
    if pool is None:
        with _POOLS_LOCK:
            pool = _POOLS.get(key)
            if pool is None:
                pool = MathVerifyPool(size)
                _POOLS[key] = pool
    return pool


@atexit.register
def close_all_pools() -> None:
    with _POOLS_LOCK:
        pools = [p for (pid, _), p in _POOLS.items() if pid == os.getpid()]
        _POOLS.clear()
    for pool in pools:
        pool.close()
