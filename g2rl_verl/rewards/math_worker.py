"""Code that runs INSIDE a math-verify worker process (see math_pool.py).

Each task runs in the worker's main thread, so math-verify's SIGALRM timeouts work. Only primitives
cross the socket: parsed sympy objects are never pickled, logged or stringified, because `str()` of some
of them never returns (power towers). The answer string reported back is the extracted string itself or
math-verify's own raw match (`parse(...)[1]`), which is already a `str`.

Every comparison task checks the gold(s) first (`math_gold.parse_gold`, cached per worker) and then sends
`GOLD_OK`; only then is the candidate's answer touched. So a timeout after `GOLD_OK` is the candidate's
(`kind=timeout`, scored wrong, `valid = 1`), and a gold that no form parses is `error/bad_gold` (`valid = 0`).
"""

from __future__ import annotations

import collections
import signal
from multiprocessing.connection import Connection

from math_verify import parse, verify
from math_verify.errors import TimeoutException

from .math_extract import base_number, integers_equal, is_integer_string, remove_whitespace
from .math_gold import parse_gold
from .math_parse import PRED_FORMS, TIMEOUT_WATCH, parse_in_forms, pred_config
from .math_pool import GOLD_OK, READY, Reply
from .math_verifier import MAX_ANSWER_CHARS

_GOLD_CACHE_SIZE = 4096
_gold_cache: collections.OrderedDict[str, tuple[list | None, str | None]] = collections.OrderedDict()


def _check_int_timeout(name: str, value: object) -> None:
    # Float timeouts make math-verify fail silently (signal.alarm takes ints): refuse them here too.
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise TypeError(f"{name} must be a positive int, got {value!r}")


def _cached_gold(gold: str, timeout_s: int) -> tuple[list | None, str | None]:
    hit = _gold_cache.get(gold)
    if hit is not None:
        _gold_cache.move_to_end(gold)
        return hit
    snapshot = TIMEOUT_WATCH.count
    result = parse_gold(gold, timeout_s)
    timed_out = TIMEOUT_WATCH.fired_since(snapshot)
    if not timed_out:  # a timeout may be load, not the gold: check again next time
        _gold_cache[gold] = result
        if len(_gold_cache) > _GOLD_CACHE_SIZE:
            _gold_cache.popitem(last=False)
    return result


def _usable_golds(golds: tuple[str, ...], timeout_s: int, conn: Connection | None) -> list[list] | str:
    """Parsed usable golds (and `GOLD_OK` sent), or the first defect when none is usable."""
    parsed, reasons = [], []
    for gold in golds:
        value, reason = _cached_gold(gold, timeout_s)
        if value is not None:
            parsed.append(value)
        else:
            reasons.append(f"{reason} ({gold[:60]!r})")
    if not parsed:
        return "; ".join(reasons) or "no gold"
    if conn is not None:
        conn.send(GOLD_OK)
    return parsed


def _fast_verdict(golds: tuple[str, ...], extracted: str) -> str | None:
    """correct / wrong without math-verify: whitespace-free string equality, integer comparison, and
    numbers written in a base (`52_8`: math-verify would ignore the base)."""
    flat = remove_whitespace(extracted)
    if any(remove_whitespace(g) == flat for g in golds):
        return "correct"
    if is_integer_string(extracted.strip()):
        int_golds = [g for g in golds if is_integer_string(g)]
        if any(integers_equal(extracted, g) for g in int_golds):
            return "correct"
        if len(int_golds) == len(golds):
            return "wrong"
    pred_base = base_number(extracted)
    gold_bases = [base_number(g) for g in golds]
    if pred_base is not None and all(b is not None for b in gold_bases):
        return "correct" if pred_base in gold_bases else "wrong"
    return None


def _compare(gold_values: list[list], pred_parsed: list, extracted: str, verify_timeout: int) -> Reply:
    timed_out = False
    for gold_parsed in gold_values:
        snapshot = TIMEOUT_WATCH.count
        # Gold first: verify is asymmetric by design (docs/rewards.md, "Comparison").
        same = verify(gold_parsed, pred_parsed, timeout_seconds=verify_timeout)
        timed_out |= TIMEOUT_WATCH.fired_since(snapshot)
        if same:
            return ("correct", "math_verify", extracted, True)
    if timed_out:
        return ("timeout", "verify_timeout", extracted, True)
    return ("wrong", "math_verify", extracted, True)


def verify_extracted(
    golds: tuple[str, ...],
    extracted: str,
    parse_timeout: int,
    verify_timeout: int,
    conn: Connection | None = None,
) -> Reply:
    """Strict mode: compare an extracted answer string with the gold(s); correct if any gold matches."""
    _check_int_timeout("parse_timeout", parse_timeout)
    _check_int_timeout("verify_timeout", verify_timeout)
    gold_values = _usable_golds(golds, parse_timeout, conn)
    if isinstance(gold_values, str):
        return ("error", f"bad_gold: {gold_values}", extracted[:200], False)
    if len(extracted) > MAX_ANSWER_CHARS:  # the caller sent only a prefix of it
        return ("wrong", "answer_too_long", extracted[:200], True)
    fast = _fast_verdict(golds, extracted)
    if fast is not None:
        return (fast, "string_equal" if fast == "correct" else "integer", extracted, True)
    pred_parsed, _form, timed_out = parse_in_forms(extracted, PRED_FORMS, pred_config(), parse_timeout)
    if pred_parsed is None:
        if timed_out:
            return ("timeout", "verify_timeout", extracted, True)
        return ("wrong", "pred_unparsable", extracted, True)
    return _compare(gold_values, pred_parsed, extracted, verify_timeout)


def verify_mathverify(
    golds: tuple[str, ...],
    answer_text: str,
    parse_timeout: int,
    verify_timeout: int,
    conn: Connection | None = None,
) -> Reply:
    """Klear-compatible mode: math-verify extracts from the whole answer text with its default configs."""
    _check_int_timeout("parse_timeout", parse_timeout)
    _check_int_timeout("verify_timeout", verify_timeout)
    gold_values = _usable_golds(golds, parse_timeout, conn)
    if isinstance(gold_values, str):
        return ("error", f"bad_gold: {gold_values}", None, False)
    snapshot = TIMEOUT_WATCH.count
    pred_parsed = parse(answer_text, parsing_timeout=parse_timeout)
    timed_out = TIMEOUT_WATCH.fired_since(snapshot)
    if len(pred_parsed) < 2 or not isinstance(pred_parsed[1], str):
        if timed_out:
            return ("timeout", "verify_timeout", None, True)
        return ("no_answer", "mathverify_no_match", None, True)
    extracted = pred_parsed[1]
    fast = _fast_verdict(golds, extracted)
    if fast is not None:
        return (fast, "string_equal" if fast == "correct" else "integer", extracted, True)
    return _compare(gold_values, pred_parsed, extracted, verify_timeout)


def check_gold(gold: str, timeout_s: int, conn: Connection | None = None) -> Reply:
    """`math_gold.gold_defect` on behalf of a caller that is not in a main thread."""
    _check_int_timeout("timeout_s", timeout_s)
    _value, reason = _cached_gold(gold, timeout_s)
    return ("ok", "", None, True) if reason is None else ("bad_gold", reason, None, False)


TASKS = {"extracted": verify_extracted, "mathverify": verify_mathverify, "gold_defect": check_gold}


def serve(conn: Connection) -> None:
    """Worker main loop: one task at a time until the parent closes the socket or sends None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    TIMEOUT_WATCH.install(quiet=True)  # keep worker stderr quiet; the verdict carries the information
    # Warm up: math-verify compiles its LaTeX grammar lazily on the first parse (~150 ms); pay it at
    # start-up rather than inside the first task's deadline. Not cached: the cache is for real golds.
    verify_extracted(("\\frac{1}{2}",), "0.5", 5, 5)
    _gold_cache.clear()
    conn.send(READY)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        task, args = message
        try:
            reply = TASKS[task](*args, conn=conn)
        except TimeoutException:  # a BaseException: `except Exception` would miss it
            reply = ("timeout", "verify_timeout", None, False)
        except Exception as exc:  # noqa: BLE001 - reported to the parent as an error verdict
            # Only the exception type: its message could embed a parsed object.
            reply = ("error", f"worker_exception:{type(exc).__name__}", None, False)
        conn.send(reply)


def main(fd: int) -> None:
    """Entry point of a worker subprocess: serve on the inherited socket `fd`."""
    serve(Connection(fd))
