"""A persistent pool of math-verify worker processes with a parent-enforced hard deadline per task.

Why not `concurrent.futures.ProcessPoolExecutor`: `future.result(timeout)` does not stop a hung worker,
and killing one breaks the whole executor. Here every worker owns a pipe; the calling thread sends one
task, waits on the pipe with a deadline, and on expiry SIGKILLs that worker and starts a replacement
(rewards.md §3.3). A worker that dies mid-task (EOF on the pipe) is replaced and the task retried once.

Start method `forkserver` with math_verify preloaded: `fork` is unsafe from processes that already run
threads (Ray actors, verl's reward loop), `spawn` re-imports sympy per worker (~300 ms).

Thread safety: `run` may be called from any number of threads at once; idle workers sit in a queue and
each is used by one thread at a time. asyncio callers go through `run_async`, which waits in a private
thread pool so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import multiprocessing
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection

# (verdict, detail, pred): see math_worker.py. The parent never imports math_worker (nor sympy).
Reply = tuple[str, str, "str | None"]

_PRELOAD = ["math_verify", "g2rl_verl.rewards.math_worker"]
_JOIN_TIMEOUT_S = 5.0


def _worker_main(conn: Connection) -> None:
    from .math_worker import serve  # imported in the child only: keeps sympy out of the parent

    serve(conn)


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection


class MathVerifyPool:
    def __init__(self, size: int) -> None:
        if size <= 0:
            raise ValueError(f"math pool size must be positive, got {size}")
        self.size = size
        self._ctx = multiprocessing.get_context("forkserver")
        # Only effective if the forkserver is not running yet; workers import math_verify themselves anyway.
        self._ctx.set_forkserver_preload(_PRELOAD)
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._closed = False
        self.n_replaced = 0  # observability: hung or crashed workers replaced so far
        self._executor = ThreadPoolExecutor(
            max_workers=max(16, 4 * size), thread_name_prefix="g2rl-math-wait"
        )
        for _ in range(size):
            self._idle.put(self._start_worker())

    def _start_worker(self) -> _Worker:
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=_worker_main, args=(child_conn,), daemon=True, name="g2rl-math-verify"
        )
        process.start()
        child_conn.close()
        worker = _Worker(process, parent_conn)
        with self._lock:
            self._workers.append(worker)
        return worker

    def _discard(self, worker: _Worker) -> None:
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
            self.n_replaced += 1
        try:
            worker.process.kill()
            worker.process.join(_JOIN_TIMEOUT_S)
        finally:
            worker.conn.close()

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._workers if w.process.pid is not None]

    def run(self, task: str, args: tuple, deadline_s: float) -> Reply:
        """Run one task; blocks the calling thread. Never raises for worker hangs or crashes."""
        for _attempt in range(2):  # a crashed worker is replaced and the task retried once
            if self._closed:
                raise RuntimeError("MathVerifyPool is closed")
            worker = self._idle.get()
            try:
                worker.conn.send((task, args))
                if not worker.conn.poll(deadline_s):
                    self._discard(worker)
                    self._idle.put(self._start_worker())
                    return ("timeout", "watchdog_timeout", None)
                reply = worker.conn.recv()
            except (EOFError, OSError):
                self._discard(worker)
                self._idle.put(self._start_worker())
                continue
            self._idle.put(worker)
            return reply
        return ("error", "worker_crash", None)

    async def run_async(self, task: str, args: tuple, deadline_s: float) -> Reply:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(self.run, task, args, deadline_s))

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
            worker.process.join(1.0)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(_JOIN_TIMEOUT_S)
            worker.conn.close()
        self._executor.shutdown(wait=False, cancel_futures=True)


# One pool per (process, size): verl's reward-loop worker builds one manager per process, and every call
# in that process must share the same warm workers.
_POOLS: dict[tuple[int, int], MathVerifyPool] = {}
_POOLS_LOCK = threading.Lock()


def get_math_pool(size: int) -> MathVerifyPool:
    key = (os.getpid(), size)  # a forked child must not reuse its parent's pipes
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
