"""The math-verify process pool: concurrency from threads and asyncio, the hard deadline (watchdog),
crash recovery, int-only timeouts and the power-tower hang (docs/rewards.md, "Math reward")."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest
from math_verify import parse

from g2rl_verl.rewards import compute_score, compute_score_async, verify
from g2rl_verl.rewards.math_pool import MathVerifyPool
from g2rl_verl.rewards.math_worker import verify_extracted

# Pairs that need the symbolic comparison (not string-equal, not integers): (response, gold, correct?)
SYMBOLIC = [
    (r"\boxed{0.5}", r"\frac{1}{2}", True),
    (r"\boxed{\sqrt{12}}", r"2\sqrt{3}", True),
    (r"\boxed{(x+1)^2}", r"x^2+2x+1", True),
    (r"\boxed{\frac{1}{3}}", r"\frac{1}{2}", False),
]
QUICK = {
    "math_parse_timeout_s": 1,
    "math_verify_timeout_s": 1,
    "math_deadline_s": 3.5,
    "max_infra_failure_rate": 1.0,
}
TOWER = r"\dfrac{5^{(5^{(5^{(5^5)})} - 4)} - 5}{16}"


async def test_threads_and_asyncio_concurrently(math_pool, fast):
    thread_results: list[tuple[bool, dict]] = []

    def worker():
        for response, gold, ok in SYMBOLIC:
            thread_results.append((ok, compute_score("MATH-TTT", response, gold, **fast)))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    async_results = await asyncio.gather(
        *(compute_score_async("MATH-TTT", r, g, **fast) for r, g, _ in SYMBOLIC * 2)
    )
    await asyncio.to_thread(lambda: [t.join() for t in threads])
    for ok, out in thread_results + list(zip([ok for *_, ok in SYMBOLIC * 2], async_results)):
        assert out["kind"] == ("correct" if ok else "wrong"), out
    assert len(thread_results) == 3 * len(SYMBOLIC)


async def test_sync_entry_point_inside_a_running_event_loop(math_pool, fast):
    # A sync call from a thread that runs an event loop must not deadlock or raise.
    out = compute_score("MATH-TTT", r"\boxed{0.5}", r"\frac12", **fast)
    assert out["kind"] == "correct"


def test_watchdog_kills_and_replaces_a_hung_worker():
    pool = MathVerifyPool(1)
    try:
        pool.wait_ready()
        [pid] = pool.worker_pids()
        os.kill(pid, signal.SIGSTOP)  # the worker now never answers
        start = time.perf_counter()
        assert pool.run("extracted", (("1/2",), "0.5", 1, 1), 2.0) == (
            "timeout",
            "watchdog_timeout",
            None,
            False,
        )
        assert 2.0 <= time.perf_counter() - start < 6.0  # deadline + kill + start (loaded CI box)
        [new_pid] = pool.worker_pids()
        assert new_pid != pid and pool.n_replaced == 1
        assert pool.run("extracted", (("1/2",), "0.5", 1, 1), 10.0)[0] == "correct"  # the next call succeeds
    finally:
        pool.close()


def test_crashed_worker_is_replaced_and_the_task_retried_once(monkeypatch):
    pool = MathVerifyPool(1)
    try:
        pool.wait_ready()
        [pid] = pool.worker_pids()
        os.kill(pid, signal.SIGKILL)
        assert pool.run("extracted", (("1/2",), "0.5", 1, 1), 10.0)[0] == "correct"  # retried on a new worker
        assert pool.n_replaced == 1

        # Every replacement dies right after it becomes ready: the retry crashes too -> worker_crash.
        await_ready = pool._await_ready

        def ready_then_die(worker):
            await_ready(worker)
            worker.process.kill()

        monkeypatch.setattr(pool, "_await_ready", ready_then_die)
        os.kill(pool.worker_pids()[0], signal.SIGKILL)
        assert pool.run("extracted", (("1/2",), "0.5", 1, 1), 10.0) == ("error", "worker_crash", None, False)
    finally:
        pool.close()


def test_workers_that_cannot_start_are_an_infrastructure_error(monkeypatch):
    """A broken environment (workers die at import) is `error/pool_unavailable` after the acquire
    timeout, never a hang and never a verdict; and worker start-up never counts against a task."""
    monkeypatch.setattr("g2rl_verl.rewards.math_pool._WORKER_BOOT", "raise SystemExit(3)")
    pool = MathVerifyPool(1, acquire_timeout_s=3.0)
    try:
        start = time.perf_counter()
        assert pool.run("extracted", (("1/2",), "0.5", 1, 1), 10.0) == (
            "error",
            "pool_unavailable",
            None,
            False,
        )
        assert time.perf_counter() - start < 8.0
    finally:
        pool.close()


def test_hung_worker_through_the_router():
    # A dedicated size-1 pool (math_pool_size=1) so the shared test pool is untouched.
    first = compute_score("MATH-TTT", r"\boxed{0.5}", r"\frac12", math_pool_size=1, **QUICK)
    assert first["kind"] == "correct"
    from g2rl_verl.rewards.math_pool import get_math_pool

    [pid] = get_math_pool(1).worker_pids()
    os.kill(pid, signal.SIGSTOP)
    hung = compute_score("MATH-TTT", r"\boxed{0.5}", r"\frac12", math_pool_size=1, **QUICK)
    assert (hung["kind"], hung["valid"], hung["score"]) == ("timeout", 0.0, -1.0)
    assert hung["latency_s"] < QUICK["math_deadline_s"] + 3.0
    assert (
        compute_score("MATH-TTT", r"\boxed{0.5}", r"\frac12", math_pool_size=1, **QUICK)["kind"] == "correct"
    )


@pytest.mark.parametrize("response", [r"\boxed{" + TOWER + "}", "The final answer is " + TOWER])
def test_power_tower_returns_within_the_deadline(math_pool, response):
    scored = verify("MATH-TTT", response, "3", math_pool_size=2, **QUICK)
    # verify_timeout (math-verify's own alarm), not watchdog_timeout: nothing stringified the object.
    assert (scored.result.kind.value, scored.result.detail) == ("timeout", "verify_timeout")
    assert scored.result.pred == TOWER  # the raw extracted string, never str(sympy)
    assert scored.result.latency_s < QUICK["math_deadline_s"] + 3.0


def test_worker_refuses_float_timeouts():
    with pytest.raises(TypeError, match="positive int"):
        verify_extracted(("1/2",), "0.5", 0.5, 1)


def test_why_float_timeouts_are_refused():
    # Pins the math-verify behaviour the guard exists for (main thread, so the alarm is usable):
    assert len(parse(r"\boxed{1/2}", parsing_timeout=1)) == 2
    assert parse(r"\boxed{1/2}", parsing_timeout=0.5) == []  # silently nothing: every answer would be wrong


@pytest.mark.parametrize(
    "gold, pred",
    [("41", "041"), ("7", "+7"), ("42", "43"), ("-3", "3"), ("0", "-0"), ("1000", "1000"), ("999", "99")],
)
def test_integer_fast_path_agrees_with_math_verify(math_pool, gold, pred):
    fast_path = int(gold) == int(pred)  # what the router decides without math-verify
    verdict, *_ = math_pool.run("extracted", ((gold,), pred, 4, 4), 15.0)
    assert verdict == ("correct" if fast_path else "wrong")
