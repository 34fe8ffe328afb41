"""Wall-clock fan-out (sandbox/fanout.py): after a test ends at the wall cap, the remaining tests run in
parallel sandboxes. Verdicts must be exactly those of the serial run (each expected verdict is written
out from what the program does on that input), and a waiting program must stop costing N x wall cap."""

from __future__ import annotations

import asyncio
import time

import pytest

from sandbox import TestSpec, Verdict, get_backend
from sandbox.fanout import shards, subset
from sandbox.session import RawResult, drive_runner

# sleeps past the wall cap on even inputs, doubles odd ones
SLEEP_ON_EVEN = "import sys, time\nn = int(sys.stdin.readline())\nif n % 2 == 0:\n    time.sleep(100)\nprint(2 * n)\n"


def test_shards_are_contiguous_balanced_and_cover_everything():
    assert shards([3, 4, 5, 6, 7, 8, 9], 3) == [[3, 4, 5], [6, 7], [8, 9]]
    assert shards([5, 6], 8) == [[5], [6]]  # never an empty shard
    assert shards([1], 0) == [[1]]
    for n in range(1, 20):
        for k in range(1, 10):
            parts = shards(list(range(n)), k)
            assert [i for p in parts for i in p] == list(range(n))
            assert max(map(len, parts)) - min(map(len, parts)) <= 1 and len(parts) == min(n, k)


def test_subset_keeps_inputs_and_expected_outputs_paired():
    spec = TestSpec.from_dict({"inputs": ["a", "b", "c"], "outputs": ["A", "B", "C"], "fn_name": "f"})
    sub = subset(spec, [2, 0])
    assert (sub.inputs, sub.outputs, sub.fn_name, sub.kind) == (["c", "a"], ["C", "A"], "f", "call")
    fun = subset(TestSpec.from_dict({"functional": ["assert 1", "assert 2", "assert 3"]}), [1])
    assert fun.snippets == ["assert 2"] and fun.kind == "functional"


def test_waiting_program_fans_out_with_the_serial_verdicts(local_backend, sb):
    inputs = [str(i) for i in range(8)]
    # even n sleeps past the 1 s wall cap (TLE "wall"); odd n prints 2n (AC)
    expected = [Verdict.TLE if i % 2 == 0 else Verdict.AC for i in range(8)]
    t0 = time.monotonic()
    result = sb.run(local_backend, SLEEP_ON_EVEN, sb.stdio(inputs, [str(2 * i) for i in range(8)]), sb.SLEEPY)
    elapsed = time.monotonic() - t0
    assert [t.verdict for t in result.tests] == expected, result.to_dict()
    assert all(t.detail == "wall" for t in result.tests if t.verdict == Verdict.TLE)
    # serially the four sleepers alone cost 4 x the wall cap; fanned out: test 0, then one parallel wave
    assert elapsed < 4 * sb.SLEEPY.wall_cap_s, elapsed

    serial = get_backend("local", wall_tle_fanout=0)
    t0 = time.monotonic()
    again = sb.run(serial, SLEEP_ON_EVEN, sb.stdio(inputs, [str(2 * i) for i in range(8)]), sb.SLEEPY)
    assert time.monotonic() - t0 >= 4 * sb.SLEEPY.wall_cap_s  # the fan-out, not luck, saved the time
    assert [t.verdict for t in again.tests] == expected


def test_fan_out_keeps_functional_verdicts_in_place(local_backend, sb):
    program = "import time\ndef f(x):\n    if x == 0:\n        time.sleep(100)\n    return x\n"
    snippets = ["assert f(0) == 0", "assert f(1) == 1", "assert f(2) == 3", "assert f(0) == 0", "assert f(4) == 4"]
    result = sb.run(local_backend, program, {"functional": snippets}, sb.SLEEPY)
    # f(0) sleeps (TLE), f(1) == 1 holds (AC), f(2) == 3 fails (WA), f(0) sleeps again, f(4) == 4 holds
    assert [t.verdict for t in result.tests] == [Verdict.TLE, Verdict.AC, Verdict.WA, Verdict.TLE, Verdict.AC]


def test_no_fan_out_for_cpu_time_limits(local_backend, sb):
    """A busy loop is judged by CPU: fanning it out would only multiply CPU use, so it stays serial."""
    calls = []
    real = local_backend.run_raw

    async def counting(program, spec, limits, stop=None):
        calls.append(spec.n_tests)
        return await real(program, spec, limits, stop)

    local_backend.run_raw = counting
    try:
        busy = "while True:\n    pass\n"
        result = sb.run(local_backend, busy, sb.stdio(["", ""], ["", ""]), sb.BUSY)
    finally:
        del local_backend.run_raw
    assert [t.verdict for t in result.tests] == [Verdict.TLE, Verdict.TLE]
    assert calls == [2]


def test_end_frame_stops_the_runner_and_the_sandbox_is_reused_clean(local_backend, sb):
    """drive_runner's `stop` sends the runner an end frame after test 0: test 1 never runs, the runner
    answers done, and the reused sandbox then serves a normal program correctly."""
    if not getattr(local_backend, "reuse", False):
        pytest.skip("sandboxes are reused only in the privileged (root) mode")
    seen: list[int] = []

    def stop_after_first(record: RawResult) -> bool:
        seen.append(record.header["index"])
        return True

    spec = TestSpec.from_dict(sb.stdio(["1", "2", "3"], ["2", "4", "6"]))
    prog = "import sys\nprint(2 * int(sys.stdin.read()))\n"
    outcome = asyncio.run(local_backend.run_raw(prog, spec, sb.SLEEPY, stop=stop_after_first))
    assert outcome.error is None and outcome.ended_at == 1 and seen == [0]
    assert outcome.results[0] is not None and outcome.results[1:] == [None, None]
    assert len(local_backend.idle_sandbox_pids()) >= 1  # the reset after "end" was clean: kept for reuse
    after = sb.run(local_backend, prog, sb.stdio(["5"], ["10"]), sb.SLEEPY)
    assert [t.verdict for t in after.tests] == [Verdict.AC]


def test_drive_runner_never_stops_after_the_last_test(sb):
    """`stop` is asked only while tests remain; a true answer after the last test changes nothing."""
    from sandbox.unsafe_backend import UnsafeBackend

    backend = UnsafeBackend()
    spec = TestSpec.from_dict(sb.stdio(["7"], ["14"]))
    outcome = asyncio.run(backend.run_raw("print(2 * int(input()))", spec, sb.SLEEPY, stop=lambda r: True))
    assert outcome.ended_at is None and outcome.error is None and outcome.results[0] is not None
    assert drive_runner.__kwdefaults__["stop"] is None


@pytest.mark.parametrize("bad", [-1, 1.5, True, "8"])
def test_wall_tle_fanout_option_is_validated(bad):
    with pytest.raises(ValueError, match="wall_tle_fanout must be an int >= 0"):
        get_backend("unsafe", wall_tle_fanout=bad)
    assert get_backend("unsafe", wall_tle_fanout=3).wall_tle_fanout == 3


def test_shards_of_all_programs_share_one_budget(local_backend, sb):
    """Three waiting programs with wall_tle_fanout=2: never more than 2 shards run at once, and every
    program still gets its serial verdicts (TLE on even inputs, AC on odd ones)."""
    from sandbox import evaluate_batch

    backend = get_backend("local", wall_tle_fanout=2)
    live = peak = 0
    real = backend.run_raw

    async def counting(program, spec, limits, stop=None):
        nonlocal live, peak
        shard = stop is None  # first runs get the stop predicate; shards do not
        live += shard
        peak = max(peak, live)
        try:
            return await real(program, spec, limits, stop)
        finally:
            live -= shard

    backend.run_raw = counting
    inputs = [str(i) for i in range(5)]
    items = [(SLEEP_ON_EVEN, sb.stdio(inputs, [str(2 * i) for i in range(5)]))] * 3
    results = evaluate_batch(items, concurrency=3, limits=sb.SLEEPY, backend=backend)
    expected = [Verdict.TLE if i % 2 == 0 else Verdict.AC for i in range(5)]
    assert [[t.verdict for t in r.tests] for r in results] == [expected] * 3
    assert peak == 2, peak
