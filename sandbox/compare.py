"""Output comparison, always in the parent (expected outputs never enter the sandbox).

Modes for stdout (verdict rules: docs/sandbox.md, "Verdicts"):
- "lines" (default): line by line, trailing whitespace and trailing blank lines ignored, CRLF == LF.
- "lines_float": as "lines", token by token; a token matches when the strings are equal, or when both are
  plain decimal numbers and: the expected token is an integer and the actual one has exactly that value
  ("1000000000" never matches "1000000007", "3.0" matches "3"), or the expected token is a non-integer
  and the two are within max(abs_tol, rel_tol * |expected|).
- "strip" (Klear): the whole outputs after stripping outer whitespace.
- "lcb" (LiveCodeBench): lines stripped, then tokens compared as exact ``Decimal`` values.
Call-based return values are compared as JSON values (`compare_call_value`), integers exactly and floats
with tolerance only in "lines_float" mode.

Every function here takes candidate-controlled text and never raises for it: whatever the candidate
prints or returns, the answer is True or False (the verdict-integrity rule of docs/sandbox.md).
Candidate JSON is parsed with `parse_untrusted_json`, which bounds size and nesting depth.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

COMPARE_MODES = ("lines", "lines_float", "strip", "lcb")
DEFAULT_ABS_TOL = 1e-6
DEFAULT_REL_TOL = 1e-6
# Candidate JSON (call-based return values): deeper nesting than any real return value, far below the
# depth at which json/recursive comparison would exhaust the interpreter stack.
MAX_JSON_DEPTH = 200
MAX_JSON_BYTES = 16 << 20

# A plain decimal number: ASCII digits only (no "1_000", no Unicode digits, no "nan"/"inf" words).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
_JSON_STRING_OR_BRACKET = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _exact_number(token: str) -> Decimal | None:
    """The exact value of a plain decimal number token, else None (Decimal: no digit-count limit)."""
    if not _NUMBER.match(token):
        return None
    try:
        value = Decimal(token)
    except (InvalidOperation, ValueError):  # exponent beyond Decimal's range
        return None
    return value if value.is_finite() else None


def _floats_close(a: float, b: float, abs_tol: float, rel_tol: float) -> bool:
    return abs(a - b) <= max(abs_tol, rel_tol * abs(b))


def _as_finite_float(value: Decimal | float) -> float | None:
    try:
        f = float(value)
    except (OverflowError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _tokens_match(actual: str, expected: str, abs_tol: float, rel_tol: float) -> bool:
    if actual == expected:
        return True
    a, b = _exact_number(actual), _exact_number(expected)
    if a is None or b is None:
        return False
    if _INTEGER.match(expected):  # integers are answers, not measurements: exact value only
        return a == b
    fa, fb = _as_finite_float(a), _as_finite_float(b)
    return fa is not None and fb is not None and _floats_close(fa, fb, abs_tol, rel_tol)


def _lcb_tokens_equal(actual: str, expected: str) -> bool:
    """LiveCodeBench: Decimal equality; anything Decimal cannot read, and any NaN, is a mismatch."""
    try:
        a, b = Decimal(actual), Decimal(expected)
        return not (a.is_nan() or b.is_nan()) and a == b
    except (ArithmeticError, ValueError):  # InvalidOperation is an ArithmeticError
        return False


def compare_output(
    actual: str, expected: str, mode: str = "lines", *,
    abs_tol: float = DEFAULT_ABS_TOL, rel_tol: float = DEFAULT_REL_TOL,
) -> bool:
    """True if stdout `actual` matches `expected` under `mode` (see module docstring)."""
    if mode == "lines":
        return _lines(actual) == _lines(expected)
    if mode == "lines_float":
        got, want = _lines(actual), _lines(expected)
        if len(got) != len(want):
            return False
        for g, w in zip(got, want):
            gt, wt = g.split(), w.split()
            if len(gt) != len(wt) or not all(_tokens_match(a, b, abs_tol, rel_tol) for a, b in zip(gt, wt)):
                return False
        return True
    if mode == "strip":
        return actual.strip() == expected.strip()
    if mode == "lcb":
        got = [line.strip() for line in actual.strip().split("\n")]
        want = [line.strip() for line in expected.strip().split("\n")]
        if len(got) != len(want):
            return False
        for g, w in zip(got, want):
            if g == w:
                continue
            gt, wt = g.split(), w.split()
            if len(gt) != len(wt) or not all(_lcb_tokens_equal(a, b) for a, b in zip(gt, wt)):
                return False
        return True
    raise ValueError(f"unknown compare mode {mode!r}; expected one of {COMPARE_MODES}")


# ----------------------------------------------------------------------------------------------------
# JSON values (call-based tests)


def json_depth_exceeds(data: bytes, max_depth: int) -> bool:
    """True if the JSON text nests arrays/objects deeper than `max_depth` (brackets inside strings do
    not count). Linear in the input; cheap when there are few brackets."""
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False
    depth = 0
    for m in _JSON_STRING_OR_BRACKET.finditer(data):
        c = m.group()
        if c in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                return True
        elif c in (b"]", b"}"):
            depth -= 1
    return False


def parse_untrusted_json(data: bytes | str, *, max_bytes: int = MAX_JSON_BYTES,
                         max_depth: int = MAX_JSON_DEPTH) -> tuple[bool, Any, str]:
    """Parses JSON written by a candidate program. Never raises: (ok, value, reason-if-not-ok)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if len(data) > max_bytes:
        return False, None, f"{len(data)} bytes exceed the {max_bytes}-byte limit"
    if json_depth_exceeds(data, max_depth):
        return False, None, f"nested deeper than {max_depth} levels"
    try:
        return True, json.loads(data), ""
    except (ValueError, RecursionError) as e:  # ValueError covers bad UTF-8 and too-long integers
        return False, None, f"not JSON: {str(e)[:200]}"


def _numbers_equal(a: float, b: float, tol: tuple[float, float] | None) -> bool:
    if a == b:  # exact, also for integers beyond float range
        return True
    if tol is None or (isinstance(a, int) and isinstance(b, int)):
        return False
    fa, fb = _as_finite_float(a), _as_finite_float(b)
    return fa is not None and fb is not None and _floats_close(fa, fb, *tol)


def _values_equal(a: Any, b: Any, tol: tuple[float, float] | None) -> bool:
    # JSON semantics: booleans are not numbers (True != 1), tuples were already lists.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return _numbers_equal(a, b, tol)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_values_equal(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_values_equal(a[k], b[k], tol) for k in a)
    return type(a) is type(b) and a == b


def compare_call_value(
    actual: Any, expected_text: str, mode: str = "lines", *,
    abs_tol: float = DEFAULT_ABS_TOL, rel_tol: float = DEFAULT_REL_TOL,
) -> bool:
    """Call-based tests: the JSON return value (as parsed by `parse_untrusted_json`) against the expected
    JSON text. An expected value that is a one-element list also accepts its element (APPS convention).
    A non-JSON expected text is compared as a plain string."""
    ok, expected, _ = parse_untrusted_json(expected_text)
    if not ok:
        expected = expected_text
    tol = (abs_tol, rel_tol) if mode == "lines_float" else None
    try:
        if _values_equal(actual, expected, tol):
            return True
        return isinstance(expected, list) and len(expected) == 1 and _values_equal(actual, expected[0], tol)
    except RecursionError:  # a value built by a caller, not parsed by parse_untrusted_json
        return False
