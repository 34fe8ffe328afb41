"""Code that runs INSIDE a math-verify pool worker process (see math_pool.py).

Each task runs in the worker's main thread, so math-verify's SIGALRM timeouts work. Only primitives
cross the pipe: parsed sympy objects are never pickled, logged or stringified, because `str()` of some
of them never returns (the power tower of rewards.md §3.3). The extracted answer string reported back is
math-verify's own raw match (`parse(...)[1]`), which is already a `str`.

math-verify swallows its own timeouts when `raise_on_error=False` (it logs "Timeout during ..." and
returns `[]`/False). We keep that setting, as the spec requires, and detect timeouts by watching those
log records, so a timed-out comparison becomes `timeout/verify_timeout` instead of a silent `wrong`.
"""

from __future__ import annotations

import logging
import signal
from multiprocessing.connection import Connection

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
from math_verify.errors import TimeoutException

from .math_extract import integers_equal, is_integer_string, remove_whitespace

# (verdict, detail, pred) with verdict in correct | wrong | no_answer | timeout | error
Reply = tuple[str, str, "str | None"]

_GOLD_CONFIG = (LatexExtractionConfig(), ExprExtractionConfig())
_PRED_CONFIG = (LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig())


class _TimeoutLogWatcher(logging.Handler):
    """Counts math-verify's "Timeout during parsing/comparison" warnings. Never formats args."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        # record.msg is math-verify's f-string (raw input text only, never a sympy object).
        if isinstance(record.msg, str) and record.msg.startswith("Timeout during"):
            self.count += 1


_WATCHER = _TimeoutLogWatcher()


def _install_watcher() -> None:
    for name in ("math_verify.parser", "math_verify.grader"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
        logger.propagate = False  # keep worker stderr quiet; the verdict carries the information
        if _WATCHER not in logger.handlers:
            logger.addHandler(_WATCHER)


def _check_int_timeout(name: str, value: object) -> None:
    # Float timeouts make math-verify fail silently (signal.alarm takes ints): refuse them here too.
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise TypeError(f"{name} must be a positive int, got {value!r}")


def verify_extracted(gold: str, extracted: str, parse_timeout: int, verify_timeout: int) -> Reply:
    """Strict mode: compare an already extracted answer string with the gold, both wrapped in \\boxed{}."""
    _check_int_timeout("parse_timeout", parse_timeout)
    _check_int_timeout("verify_timeout", verify_timeout)
    before = _WATCHER.count
    gold_parsed = parse("\\boxed{" + gold + "}", _GOLD_CONFIG, parsing_timeout=parse_timeout)
    pred_parsed = parse("\\boxed{" + extracted + "}", _PRED_CONFIG, parsing_timeout=parse_timeout)
    return _compare(gold_parsed, pred_parsed, extracted, before, verify_timeout)


def verify_mathverify(gold: str, answer_text: str, parse_timeout: int, verify_timeout: int) -> Reply:
    """Klear-compatible mode: math-verify extracts from the whole answer text with its default configs."""
    _check_int_timeout("parse_timeout", parse_timeout)
    _check_int_timeout("verify_timeout", verify_timeout)
    before = _WATCHER.count
    pred_parsed = parse(answer_text, parsing_timeout=parse_timeout)
    if len(pred_parsed) < 2 or not isinstance(pred_parsed[1], str):
        if _WATCHER.count > before:
            return ("timeout", "verify_timeout", None)
        return ("no_answer", "mathverify_no_match", None)
    extracted = pred_parsed[1]
    if remove_whitespace(extracted) == remove_whitespace(gold):
        return ("correct", "string_equal", extracted)
    if is_integer_string(extracted.strip()) and is_integer_string(gold):
        verdict = "correct" if integers_equal(extracted, gold) else "wrong"
        return (verdict, "integer", extracted)
    gold_parsed = parse("\\boxed{" + gold + "}", _GOLD_CONFIG, parsing_timeout=parse_timeout)
    return _compare(gold_parsed, pred_parsed, extracted, before, verify_timeout)


def _compare(gold_parsed: list, pred_parsed: list, extracted: str, before: int, verify_timeout: int) -> Reply:
    if not gold_parsed:
        if _WATCHER.count > before:
            return ("timeout", "verify_timeout", extracted)
        return ("error", "gold_unparsable", extracted)
    if not pred_parsed:
        if _WATCHER.count > before:
            return ("timeout", "verify_timeout", extracted)
        return ("wrong", "pred_unparsable", extracted)
    # Gold first: verify is asymmetric by design (rewards.md §3.3).
    if verify(gold_parsed, pred_parsed, timeout_seconds=verify_timeout):
        return ("correct", "math_verify", extracted)
    if _WATCHER.count > before:
        return ("timeout", "verify_timeout", extracted)
    return ("wrong", "math_verify", extracted)


TASKS = {"extracted": verify_extracted, "mathverify": verify_mathverify}


def serve(conn: Connection) -> None:
    """Worker main loop: one task at a time until the parent closes the pipe or sends None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _install_watcher()
    # Warm up: math-verify compiles its LaTeX grammar lazily on the first parse (~150 ms); pay it at
    # start-up rather than inside the first task's deadline.
    verify_extracted("\\frac{1}{2}", "0.5", 5, 5)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        task, args = message
        try:
            reply = TASKS[task](*args)
        except TimeoutException:  # a BaseException: `except Exception` would miss it
            reply = ("timeout", "verify_timeout", None)
        except Exception as exc:  # noqa: BLE001 - reported to the parent as an error verdict
            # Only the exception type: its message could embed a parsed object.
            reply = ("error", f"worker_exception:{type(exc).__name__}", None)
        conn.send(reply)
