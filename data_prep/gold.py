"""Gold-answer validation with math-verify (rewards.md §3.6).

A math gold passes when ``verify(parse(boxed(gold)), parse(boxed(gold)))`` is True and, for integer
golds, math-verify parses it to that same integer (so the reward's integer fast path agrees). Golds
that pass but contain ``=``, ``\\text`` or a currency sign are kept and counted as warnings: they
often score 0 against bare predicted numbers (the check is asymmetric).

math-verify's timeouts are SIGALRM-based and only work in the main thread, with int seconds; parsed
sympy objects are never printed (str() can hang on power towers). With ``workers > 1`` distinct golds
are checked in a pool of forkserver processes (each check runs in a worker's main thread, so the
signal timeouts still work); results are identical to the in-process check, only faster.
"""

from __future__ import annotations

import multiprocessing
import re
import threading
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor

_INTEGER_RE = re.compile(r"-?\d+")
_WARNING_PATTERNS = {
    "contains '='": re.compile(r"="),
    "contains \\text": re.compile(r"\\text|\\mbox|\\mathrm\{[a-zA-Z]{2,}"),
    "contains currency": re.compile(r"\\\$|[€£¥]|\\euro|\\pounds"),
}


def _preload() -> None:
    import math_verify  # noqa: F401 - warm the worker once, not on its first task


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
    """The §3.6 check for one gold; must run in a main thread. None means the gold is usable."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("math-verify gold checks must run in a main thread (SIGALRM timeouts)")
    import sympy
    from math_verify import parse, verify
    from math_verify.errors import TimeoutException

    try:
        parsed = parse(f"\\boxed{{{gold}}}", parsing_timeout=timeout_s)
        if not parsed:
            return "gold_unparseable: math-verify extracts nothing from \\boxed{gold}"
        if not verify(parsed, parsed, timeout_seconds=timeout_s):
            return "gold_not_self_verifying: verify(parse(gold), parse(gold)) is False"
        if _INTEGER_RE.fullmatch(gold) and not (
            isinstance(parsed[0], sympy.Integer) and parsed[0] == sympy.Integer(int(gold))
        ):
            return "gold_integer_mismatch: math-verify does not parse the integer gold as that integer"
    except TimeoutException:  # a BaseException: `except Exception` would miss it
        return "gold_timeout: math-verify timed out"
    except Exception as e:  # noqa: BLE001 - any parser crash means the gold is unusable
        return f"gold_error: math-verify raised {type(e).__name__}"
    return None
