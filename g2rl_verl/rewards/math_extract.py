"""Strict final-answer extraction for math, and the maj@k canonical answer (rewards.md §3.1, data-eval.md §8).

Strict extraction, in order:
1. the content of the last complete `\\boxed{...}` / `\\fbox{...}` (whitespace allowed before `{`, nested
   and escaped braces handled). An unclosed box that begins after the last complete box means the
   response was truncated: no answer.
2. otherwise the last line matching "final answer is X" or "Answer: X" (case-insensitive): the rest of
   the line, with surrounding `$...$` and a trailing period stripped.
3. otherwise no answer. There is deliberately no unanchored last-number fallback: on truncated chains of
   thought it rewards whatever number happened to come last (rewards.md §3.4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BOX_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ANCHOR = re.compile(r"(?:final answer is|answer\s*:)\s*(.*)$", re.IGNORECASE)
_INTEGER = re.compile(r"^[+-]?\d+$")
_INTEGRAL_FLOAT = re.compile(r"^([+-]?\d+)\.0*$")
_LEFT_RIGHT = re.compile(r"\\(?:left|right)(?![A-Za-z])")
_FRAC_VARIANTS = re.compile(r"\\[dt]frac(?![A-Za-z])")
_WHITESPACE = re.compile(r"\s+")
_EMPHASIS_EDGES = re.compile(r"^[\s*]+|[\s*]+$")


@dataclass(frozen=True)
class Extraction:
    answer: str | None  # None: no answer
    detail: str  # "boxed", "anchor", "truncated_box", "no_anchor", "empty_box", "empty_anchor"


def closing_brace(text: str, open_at: int) -> int:
    """Index of the `}` matching the `{` at `open_at`, or -1 if unbalanced. `\\{`/`\\}` are literal."""
    depth = 0
    i = open_at
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2  # skip the escaped character (\{, \}, \\)
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def last_boxed(text: str) -> tuple[str | None, bool]:
    """(content of the last complete box, truncated) where truncated means an unclosed box follows it."""
    best: tuple[int, str] | None = None  # (end index, content)
    last_unclosed_start = -1
    for match in BOX_OPEN.finditer(text):
        brace = match.end() - 1
        close = closing_brace(text, brace)
        if close < 0:
            last_unclosed_start = max(last_unclosed_start, match.start())
            continue
        if best is None or close > best[0]:
            best = (close, text[brace + 1 : close])
    if best is None:
        return None, last_unclosed_start >= 0
    return best[1], last_unclosed_start > best[0]


def _strip_anchor_value(value: str) -> str:
    value = _EMPHASIS_EDGES.sub("", value)  # markdown emphasis: "**Answer:** **73**"
    if value.endswith("."):
        value = value[:-1].rstrip()
    while len(value) >= 2 and value.startswith("$") and value.endswith("$"):
        value = value.strip("$").strip()
    if value.endswith("."):
        value = value[:-1].rstrip()
    return value


def extract_strict(answer_text: str) -> Extraction:
    boxed, truncated = last_boxed(answer_text)
    if truncated:
        return Extraction(None, "truncated_box")
    if boxed is not None:
        boxed = boxed.strip()
        return Extraction(boxed, "boxed") if boxed else Extraction(None, "empty_box")
    for line in reversed(answer_text.splitlines()):
        match = _ANCHOR.search(line)
        if match:
            value = _strip_anchor_value(match.group(1))
            return Extraction(value, "anchor") if value else Extraction(None, "empty_anchor")
    return Extraction(None, "no_anchor")


def is_integer_string(s: str) -> bool:
    return _INTEGER.match(s) is not None


def integers_equal(a: str, b: str) -> bool:
    """Equality of two `is_integer_string` values without int(): Python refuses to convert strings of more
    than 4300 digits, and a model can emit one."""

    def canonical(s: str) -> tuple[bool, str]:
        digits = s.lstrip("+-").lstrip("0") or "0"
        return (s.startswith("-") and digits != "0", digits)

    return canonical(a.strip()) == canonical(b.strip())


def remove_whitespace(s: str) -> str:
    return _WHITESPACE.sub("", s)


def normalize_gold(ground_truth: object) -> str:
    """Gold as a string; floats with an integral value become integer strings (AMC `27.0` -> `27`)."""
    if isinstance(ground_truth, bool):
        raise TypeError(f"math ground_truth must be a str, int or float, got bool {ground_truth!r}")
    if isinstance(ground_truth, float):
        return str(int(ground_truth)) if ground_truth.is_integer() else repr(ground_truth)
    if isinstance(ground_truth, int):
        return str(ground_truth)
    if isinstance(ground_truth, str):
        return ground_truth.strip()
    raise TypeError(
        f"math ground_truth must be a str, int or float, got {type(ground_truth).__name__}; "
        "data-prep stores golds as strings (data-eval.md §1)"
    )


def canonical_answer(pred: str) -> str:
    """maj@k grouping key (data-eval.md §8): whitespace and `\\left`/`\\right` removed, `\\dfrac`/`\\tfrac`
    -> `\\frac`, integral floats written as integers. Letters (multiple choice) pass through unchanged."""
    s = remove_whitespace(pred)
    s = _LEFT_RIGHT.sub("", s)
    s = _FRAC_VARIANTS.sub(r"\\frac", s)
    match = _INTEGRAL_FLOAT.match(s)
    if match:  # no int(): it refuses strings of more than 4300 digits
        digits = match.group(1).lstrip("+-").lstrip("0") or "0"
        s = "-" + digits if match.group(1).startswith("-") and digits != "0" else digits
    return s
