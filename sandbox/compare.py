"""Output comparison, always in the parent (expected outputs never enter the sandbox). rewards.md §4.5.

Modes for stdout: "lines" (default), "lines_float", "strip" (Klear), "lcb" (LiveCodeBench).
Call-based return values are compared as JSON values (compare_call_value), with float tolerance only in
"lines_float" mode.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from typing import Any

COMPARE_MODES = ("lines", "lines_float", "strip", "lcb")
DEFAULT_ABS_TOL = 1e-6
DEFAULT_REL_TOL = 1e-6


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _parse_finite(token: str) -> float | None:
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _floats_close(a: float, b: float, abs_tol: float, rel_tol: float) -> bool:
    return abs(a - b) <= max(abs_tol, rel_tol * abs(b))


def _tokens_match(actual: str, expected: str, abs_tol: float, rel_tol: float) -> bool:
    if actual == expected:
        return True
    a, b = _parse_finite(actual), _parse_finite(expected)
    return a is not None and b is not None and _floats_close(a, b, abs_tol, rel_tol)


def _decimal(token: str) -> Decimal | None:
    try:
        return Decimal(token)
    except (InvalidOperation, ValueError):
        return None


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
            if len(gt) != len(wt):
                return False
            for a, b in zip(gt, wt):
                da, db = _decimal(a), _decimal(b)
                if da is None or db is None or da != db:
                    return False
        return True
    raise ValueError(f"unknown compare mode {mode!r}; expected one of {COMPARE_MODES}")


def _values_equal(a: Any, b: Any, tol: tuple[float, float] | None) -> bool:
    # JSON semantics: booleans are not numbers (True != 1), tuples were already lists.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if a == b:
            return True
        return tol is not None and math.isfinite(a) and math.isfinite(b) and _floats_close(a, b, *tol)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_values_equal(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_values_equal(a[k], b[k], tol) for k in a)
    return type(a) is type(b) and a == b


def compare_call_value(
    actual: Any, expected_text: str, mode: str = "lines", *,
    abs_tol: float = DEFAULT_ABS_TOL, rel_tol: float = DEFAULT_REL_TOL,
) -> bool:
    """Call-based tests: the JSON return value against the expected JSON text. An expected value that is
    a one-element list also accepts its element (APPS convention). A non-JSON expected text is compared
    as a plain string."""
    try:
        expected = json.loads(expected_text)
    except ValueError:
        expected = expected_text
    tol = (abs_tol, rel_tol) if mode == "lines_float" else None
    if _values_equal(actual, expected, tol):
        return True
    return isinstance(expected, list) and len(expected) == 1 and _values_equal(actual, expected[0], tol)
