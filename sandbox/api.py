"""Public entry points: evaluate one program or a batch, sync or async, on a named backend."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Iterable
from typing import Any

from sandbox.backend import Backend
from sandbox.compare import COMPARE_MODES
from sandbox.types import BadTestSpec, Limits, ProgramResult, TestSpec

# The one registry of backends: name -> "module:Class", imported on first use (docker and http need
# optional dependencies). Everything that lists backend names (CLI choices, the service, the reward
# config) reads BACKEND_NAMES; adding a backend is one line here (docs/sandbox.md, "Adding a backend").
BACKENDS: dict[str, str] = {
    "local": "sandbox.local_backend:LocalBackend",
    "unsafe": "sandbox.unsafe_backend:UnsafeBackend",
    "docker": "sandbox.docker_backend:DockerBackend",
    "http": "sandbox.http_backend:HttpBackend",
}
BACKEND_NAMES = tuple(BACKENDS)
REMOTE_BACKENDS = ("http",)  # forward to a service: a service cannot be backed by one
_default_backends: dict[str, Backend] = {}
_default_lock = threading.Lock()


def get_backend(name: str = "local", **options: Any) -> Backend:
    """A backend by name. Without options the instance is shared (probed once per process)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown sandbox backend {name!r}; expected one of {BACKEND_NAMES}")
    if not options:
        with _default_lock:
            if name not in _default_backends:
                _default_backends[name] = _make_backend(name, {})
            return _default_backends[name]
    return _make_backend(name, options)


def _make_backend(name: str, options: dict[str, Any]) -> Backend:
    """`wall_tle_fanout` (an int >= 0, see sandbox/fanout.py) is accepted by every backend; the other
    options go to the backend's constructor."""
    import importlib

    options = dict(options)
    fanout = options.pop("wall_tle_fanout", None)
    if fanout is not None and (isinstance(fanout, bool) or not isinstance(fanout, int) or fanout < 0):
        raise ValueError(f"wall_tle_fanout must be an int >= 0 (0: never fan out), got {fanout!r}")
    module_name, _, class_name = BACKENDS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"backend {name!r} is not available in this installation: {e}") from None
    backend = getattr(module, class_name)(**options)
    if fanout is not None:
        backend.wall_tle_fanout = fanout
    return backend


def _resolve(spec: TestSpec | dict, limits: Limits | None, compare: str,
             backend: str | Backend) -> tuple[TestSpec, Limits, Backend]:
    spec = TestSpec.from_dict(spec)
    limits = (limits or Limits()).validate()
    if compare not in COMPARE_MODES:
        raise ValueError(f"compare={compare!r} is not one of {COMPARE_MODES}")
    backend = backend if isinstance(backend, Backend) else get_backend(backend)
    return spec, limits, backend


async def _evaluate_resolved(program: str, spec: TestSpec, limits: Limits, compare: str,
                             backend: Backend) -> ProgramResult:
    if not isinstance(program, str):
        raise TypeError(f"program must be a str, got {type(program).__name__}")
    result = await backend.evaluate(program, spec, limits, compare)
    if result.has_system_error:  # infrastructure hiccup: one retry, then SE stays (rewards: kind=error)
        result = await backend.evaluate(program, spec, limits, compare)
    return result


async def _backend_off_loop(backend: str | Backend) -> str | Backend:
    """Creating a backend probes the host once (a short subprocess): do that in a thread."""
    if isinstance(backend, str) and backend not in _default_backends:
        return await asyncio.to_thread(get_backend, backend)
    return backend


async def evaluate_async(program: str, spec: TestSpec | dict, *, limits: Limits | None = None,
                         compare: str = "lines", backend: str | Backend = "local") -> ProgramResult:
    """Runs `program` against `spec`; never blocks the event loop (subprocess pipes are asyncio)."""
    backend = await _backend_off_loop(backend)
    spec, limits, backend = _resolve(spec, limits, compare, backend)
    return await _evaluate_resolved(program, spec, limits, compare, backend)


def _run_sync(coro):
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise RuntimeError(
        "called the synchronous sandbox API from a running event loop; await the *_async variant")


def evaluate(program: str, spec: TestSpec | dict, *, limits: Limits | None = None, compare: str = "lines",
             backend: str | Backend = "local") -> ProgramResult:
    return _run_sync(evaluate_async(program, spec, limits=limits, compare=compare, backend=backend))


async def evaluate_batch_async(
    items: Iterable[tuple[str, TestSpec | dict]], *, concurrency: int | None = None,
    limits: Limits | None = None, compare: str = "lines", backend: str | Backend = "local",
    progress: bool = False,
) -> list[ProgramResult]:
    """Evaluates many programs with at most `concurrency` sandboxes alive (default: CPU count).
    Results are in input order. A malformed spec raises BadTestSpec naming its item index."""
    items = list(items)
    backend = await _backend_off_loop(backend)
    resolved = []
    for i, (program, spec) in enumerate(items):
        try:
            resolved.append((program, *_resolve(spec, limits, compare, backend)))
        except BadTestSpec as e:
            raise BadTestSpec(f"item {i}: {e}") from None
    concurrency = concurrency or os.cpu_count() or 1
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(program, spec, lim, be):
        nonlocal done
        async with gate:
            result = await _evaluate_resolved(program, spec, lim, compare, be)
        done += 1
        if progress:
            print(f"\rsandbox: {done}/{len(resolved)} programs", end="", file=sys.stderr, flush=True)
        return result

    results = await asyncio.gather(*(one(*r) for r in resolved))
    if progress:
        print(file=sys.stderr)
    return list(results)


def evaluate_batch(items: Iterable[tuple[str, TestSpec | dict]], *, concurrency: int | None = None,
                   limits: Limits | None = None, compare: str = "lines", backend: str | Backend = "local",
                   progress: bool = False) -> list[ProgramResult]:
    return _run_sync(evaluate_batch_async(items, concurrency=concurrency, limits=limits, compare=compare,
                                          backend=backend, progress=progress))
