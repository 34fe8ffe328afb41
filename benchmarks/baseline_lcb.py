"""Baseline D: a LiveCodeBench-style in-process harness, written from its description.

- one forked ``multiprocessing.Process`` per program;
- inside it, every test runs IN-PROCESS (``exec`` of the program with a fake ``sys.stdin`` and a
  captured ``sys.stdout``; call-based tests call the function and compare ``result == expected``
  in the same process) under ``signal.alarm``;
- per-test results come back through a ``multiprocessing.Manager().list()`` created per program;
- the parent joins with the outer timeout ``(t + 1) * n + 5`` and kills the process if it is late;
- a pool of ``nproc`` worker threads, each driving one program at a time.

No isolation at all: never feed it host-harmful programs (memory or fork bombs).
This module only exists to be measured against; it is not part of the product.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from sandbox import compare_output


class _Timeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Timeout()


def _run_tests_in_process(program: str, in_outs: dict, timeout_s: int, compare: str, results) -> None:
    """Child body: all tests of one program in this process (the harness's own frames hold `in_outs`)."""
    signal.signal(signal.SIGALRM, _on_alarm)
    fn_name = in_outs.get("fn_name")
    for test_input, expected in zip(in_outs["inputs"], in_outs["outputs"]):
        passed = False
        signal.alarm(timeout_s)
        try:
            if fn_name:
                namespace: dict = {"__name__": "candidate"}
                exec(compile(program, "<candidate>", "exec"), namespace)
                args = [json.loads(line) for line in test_input.split("\n") if line.strip()]
                with contextlib.redirect_stdout(io.StringIO()):
                    result = namespace[fn_name](*args)
                passed = bool(result == json.loads(expected))  # in-process comparison, as in LCB
            else:
                captured = io.StringIO()
                old_stdin = sys.stdin
                sys.stdin = io.StringIO(test_input)
                try:
                    with contextlib.redirect_stdout(captured):
                        exec(compile(program, "<candidate>", "exec"), {"__name__": "__main__"})
                except SystemExit as e:
                    if e.code not in (0, None):
                        raise
                finally:
                    sys.stdin = old_stdin
                # expected None: assert-style test, passing means the snippet completed
                passed = expected is None or compare_output(captured.getvalue(), expected, compare)
        except BaseException:  # timeouts, exceptions: the test fails (SystemExit(1) included)
            passed = False
        finally:
            signal.alarm(0)
        results.append(passed)


def evaluate_program(
    program: str, in_outs: dict, *, timeout_s: int, compare: str
) -> tuple[list[bool], float]:
    """Per-test pass flags (missing tests count as failed) and the program's wall time."""
    t0 = time.perf_counter()
    n_tests = len(in_outs["inputs"])
    manager = multiprocessing.Manager()  # one Manager per evaluation, as in the reference harness
    try:
        results = manager.list()
        proc = multiprocessing.Process(
            target=_run_tests_in_process, args=(program, in_outs, timeout_s, compare, results)
        )
        proc.start()
        proc.join(timeout=(timeout_s + 1) * n_tests + 5)
        if proc.is_alive():
            proc.kill()
            proc.join()
        flags = list(results)
    finally:
        manager.shutdown()
    flags += [False] * (n_tests - len(flags))
    return flags[:n_tests], time.perf_counter() - t0


def evaluate_all(
    items: list[tuple[str, dict]], *, concurrency: int, timeout_s: int, compare: str
) -> list[tuple[list[bool], float]]:
    ctx_ok = multiprocessing.get_start_method(allow_none=True) in (None, "fork")
    if not ctx_ok:
        raise RuntimeError("the LCB-style baseline needs the 'fork' start method")
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(
            pool.map(lambda it: evaluate_program(it[0], it[1], timeout_s=timeout_s, compare=compare), items)
        )
