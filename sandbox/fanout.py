"""Evaluating one program, with the wall-clock fan-out that keeps waiting programs from serialising.

A program's tests normally run one after another in one sandbox. A program that waits (sleeps, blocks
on a read, deadlocks) uses no CPU but holds its sandbox for the whole wall cap of every test: with N
tests it takes N x wall cap, and a batch is as slow as its slowest such program. So once a test ends by
the wall cap (``killed_by == "wall"``, the runner's own record), the program stops there and its
remaining tests are split into at most ``Backend.wall_tle_fanout`` contiguous shards, each run as the
same program in its own sandbox, all at once. Shards of all programs share one budget: a backend runs at
most ``wall_tle_fanout`` of them at a time (per event loop), so a batch never holds more than its
concurrency plus ``wall_tle_fanout`` sandboxes, however many of its programs wait.

Nothing about a verdict changes: every shard is an ordinary run of the program (fresh sandbox or a
reused one after a complete reset, its own uid and cgroup), and a test's verdict never depends on what
ran before it in the same sandbox (docs/sandbox.md, "Threat model"). What changes is the number of
sandboxes alive at once (above); each shard still has its own memory, process and CPU limits.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import replace
from typing import TYPE_CHECKING

from sandbox.session import RawResult, judge_outcome
from sandbox.types import Limits, TestRecord, TestSpec

if TYPE_CHECKING:
    from sandbox.backend import Backend


def waited_out(record: RawResult) -> bool:
    """The runner killed this test at the wall cap (not for CPU, memory or output)."""
    return record.header.get("killed_by") == "wall"


def subset(spec: TestSpec, indices: list[int]) -> TestSpec:
    """The tests `indices` of `spec`, in that order, as a spec of their own."""
    if spec.kind == "functional":
        return replace(spec, snippets=[spec.snippets[i] for i in indices])
    return replace(spec, inputs=[spec.inputs[i] for i in indices], outputs=[spec.outputs[i] for i in indices])


def shards(indices: list[int], n_shards: int) -> list[list[int]]:
    """`indices` cut into min(n_shards, len) contiguous runs whose lengths differ by at most one."""
    n_shards = max(1, min(n_shards, len(indices)))
    size, extra = divmod(len(indices), n_shards)
    out, at = [], 0
    for i in range(n_shards):
        take = size + (i < extra)
        out.append(indices[at:at + take])
        at += take
    return out


def _shard_slots(backend: Backend, size: int) -> asyncio.Semaphore:
    """The backend's shard budget on the running event loop (asyncio primitives are loop-bound)."""
    loop = asyncio.get_running_loop()
    per_loop = backend.__dict__.setdefault("_fanout_slots", weakref.WeakKeyDictionary())
    slots = per_loop.get(loop)
    if slots is None:
        slots = per_loop[loop] = asyncio.Semaphore(size)
    return slots


async def evaluate_tests(backend: Backend, program: str, spec: TestSpec, limits: Limits,
                         compare: str) -> list[TestRecord]:
    """The judged record of every test of `spec`, in order."""
    fanout = int(backend.wall_tle_fanout)
    outcome = await backend.run_raw(program, spec, limits, stop=waited_out if fanout > 0 else None)
    records = judge_outcome(outcome, spec, limits, compare)
    if outcome.ended_at is None:
        return records
    rest = list(range(outcome.ended_at, spec.n_tests))
    parts = shards(rest, fanout)
    subspecs = [subset(spec, part) for part in parts]
    slots = _shard_slots(backend, fanout)

    async def run_shard(sub: TestSpec):
        async with slots:
            return await backend.run_raw(program, sub, limits)

    outcomes = await asyncio.gather(*(run_shard(sub) for sub in subspecs))
    for part, sub, out in zip(parts, subspecs, outcomes):
        for index, record in zip(part, judge_outcome(out, sub, limits, compare)):
            records[index] = record
    return records
