"""Gold-answer validation for data_prep builds: the reward's own rule, run over a whole file.

Whether a gold is usable is decided in one place, `g2rl_verl.rewards.math_gold.gold_defect` (truncated
or unbalanced golds such as ``\\frac{`` are refused, and so are golds math-verify cannot parse or that
do not verify against themselves); this module only adds what a build needs around it: a cache per
distinct gold, a process pool, and counts. Golds that pass but contain ``=``, ``\\text`` or a currency
sign are kept and counted as warnings: they often score 0 against bare predicted numbers.

math-verify's timeouts are SIGALRM-based and only work in the main thread, with int seconds. With
``workers > 1`` distinct golds are checked in a pool of forkserver processes (each check runs in a
worker's main thread, so the signal timeouts still work); results are identical to the in-process
check, only faster.
"""

from __future__ import annotations

import multiprocessing
import re
import threading
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor

_WARNING_PATTERNS = {
    "contains '='": re.compile(r"="),
    "contains \\text": re.compile(r"\\text|\\mbox|\\mathrm\{[a-zA-Z]{2,}"),
    "contains currency": re.compile(r"\\\$|[€£¥]|\\euro|\\pounds"),
}


def _preload() -> None:
    import math_verify  # noqa: F401

    import g2rl_verl.rewards.math_gold  # noqa: F401 - warm the worker once, not on its first task


class GoldValidator:
    """Caches results per distinct gold string (golds repeat a lot: 2,881 distinct in MATH train)."""

    def __init__(self, timeout_s: int = 5, workers: int = 1):
        if not isinstance(timeout_s, int) or timeout_s < 1:
            raise ValueError("timeout_s must be a positive int: math-verify silently fails on float timeouts")
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.timeout_s = timeout_s
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._cache: dict[str, str | None] = {}
        self.checked = 0
        self.failed = 0
        self.warnings: Counter[str] = Counter()

    def failure(self, gold: str) -> str | None:
        """None when the gold is usable, else the reason it is rejected."""
        self.checked += 1
        for name, pattern in _WARNING_PATTERNS.items():
            if pattern.search(gold):
                self.warnings[name] += 1
        if gold not in self._cache:
            self._cache[gold] = self._check(gold)
        reason = self._cache[gold]
        if reason is not None:
            self.failed += 1
        return reason

    def prefetch(self, golds: Iterable[str]) -> None:
        """Check the not-yet-cached golds of a batch in the worker pool (no-op with one worker)."""
        todo = sorted({g for g in golds if g not in self._cache})
        if self.workers == 1 or len(todo) < 2:
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("forkserver"), initializer=_preload
            )
        timeouts = [self.timeout_s] * len(todo)
        for gold, reason in zip(todo, self._pool.map(check_gold, todo, timeouts, chunksize=8)):
            self._cache[gold] = reason

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _check(self, gold: str) -> str | None:
        return check_gold(gold, self.timeout_s)

    def summary(self) -> dict:
        return {
            "checked": self.checked,
            "failed": self.failed,
            "warnings": dict(sorted(self.warnings.items())),
        }


def check_gold(gold: str, timeout_s: int) -> str | None:
    """None when the gold is usable, else the reason (from `gold_defect`). Must run in a main thread."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("math-verify gold checks must run in a main thread (SIGALRM timeouts)")
    from g2rl_verl.rewards.math_gold import gold_defect

    return gold_defect(gold, timeout_s)
