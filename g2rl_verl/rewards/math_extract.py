"""Strict final-answer extraction for math, and the maj@k canonical answer (docs/rewards.md, "Math
reward: extraction"; docs/data-and-eval.md for maj@k).

Strict extraction, in order:
1. the content of the last complete `\\boxed{...}` / `\\fbox{...}` (whitespace allowed before `{`, nested
   and escaped braces handled). An unclosed box that begins after the last complete box means the
   response was truncated: no answer.
2. otherwise the LAST anchor in the text, "final answer is" or "answer:" (case-insensitive; `**Answer**:`
   too). The value is the rest of that line after the anchor: a leading `$...$` math span if there is
   one, else the text up to the end of the sentence; surrounding emphasis, `$` and a trailing period are
   stripped. The last anchor, not the first on its line: Minerva's template "Final Answer: The final
   answer is $7.78$. I hope it is correct." must give `7.78`.
3. otherwise no answer. There is deliberately no unanchored last-number fallback: on truncated chains of
   thought it rewards whatever number happened to come last.

Everything here is linear in the length of the text, whatever the text (a response may be 1 MB of
unclosed `\\boxed{`): one regex scan with a stack for boxes, no per-candidate rescans, and no pattern
with adjacent unbounded quantifiers that could backtrack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Box openers, escaped characters (`\{`, `\}`, `\\`, and the backslash of any other command) and bare
# braces, in one alternation: a single left-to-right scan tokenises the whole text.
_BOX_TOKENS = re.compile(r"\\(?:boxed|fbox)\s*+\{|\\.|[{}]", re.DOTALL)
_ANCHOR = re.compile(r"final[ \t]++answer[ \t]++is[ \t]*+:?|answer[ \t]*+(?:\*\*)?[ \t]*+:", re.IGNORECASE)
_SENTENCE_END = re.compile(r"\.(?=\s+[A-Z])")
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")
# A number written in a base: `52_8`, `4210_{5}`, `A3_{16}` (digits, then the base as a subscript).
_BASE_NUMBER = re.compile(r"([0-9A-Za-z]+)_\{?(\d+)\}?")
_INTEGER = re.compile(r"^[+-]?\d+$")
_INTEGRAL_FLOAT = re.compile(r"^([+-]?\d+)\.0*$")
_LEFT_RIGHT = re.compile(r"\\(?:left|right)(?![A-Za-z])")
_FRAC_VARIANTS = re.compile(r"\\[dt]frac(?![A-Za-z])")
_WHITESPACE = re.compile(r"\s+")
_EDGE_CHARS = " \t\r\n*"


@dataclass(frozen=True)
class Extraction:
    answer: str | None  # None: no answer
    detail: str  # "boxed", "anchor", "truncated_box", "no_anchor", "empty_box", "empty_anchor"


def box_spans(text: str) -> tuple[list[int], list[int], int]:
    """(content starts, content ends) of the complete boxes in the order they close, and the start of the
    last unclosed box's content or -1. Linear time; plain int lists (no per-box objects for the garbage
    collector to rescan on megabyte inputs)."""
    stack: list[int] = []  # per open brace: content start if it opened a box, else -1
    starts: list[int] = []
    ends: list[int] = []
    for token in _BOX_TOKENS.finditer(text):
        t = token.group()
        if t == "}":
            if stack:
                opened = stack.pop()
                if opened >= 0:
                    starts.append(opened)
                    ends.append(token.start())
        elif t == "{":
            stack.append(-1)
        elif t[-1] == "{" and len(t) > 2:  # a box opener (`\\{` is an escaped literal, length 2)
            stack.append(token.end())
    return starts, ends, max(stack, default=-1)


def last_boxed(text: str) -> tuple[str | None, bool]:
    """(content of the last complete box, truncated) where truncated means an unclosed box follows it.

    "Last" is the box that closes last, so `\\boxed{\\boxed{5}}` gives `\\boxed{5}`."""
    starts, ends, last_unclosed = box_spans(text)
    if not starts:
        return None, last_unclosed >= 0
    return text[starts[-1] : ends[-1]], last_unclosed > ends[-1]


def _anchor_value(rest: str) -> str:
    """The answer after an anchor: rest of the line, trimmed to its math span or first sentence."""
    value = rest.strip(_EDGE_CHARS)  # markdown emphasis: "**Answer:** **73**"
    if value.startswith("$"):
        delim = "$$" if value.startswith("$$") else "$"
        close = _UNESCAPED_DOLLAR.search(value, len(delim))  # `\$` is a currency sign, not a delimiter
        if close:
            value = value[len(delim) : close.start()]
    else:
        end = _SENTENCE_END.search(value)
        if end:
            value = value[: end.start()]
    value = value.strip(_EDGE_CHARS)
    value = value.removesuffix(".")
    return value.strip(_EDGE_CHARS + "$")


def extract_strict(answer_text: str) -> Extraction:
    boxed, truncated = last_boxed(answer_text)
    if truncated:
        return Extraction(None, "truncated_box")
    if boxed is not None:
        boxed = boxed.strip()
        return Extraction(boxed, "boxed") if boxed else Extraction(None, "empty_box")
    last = None
    for last in _ANCHOR.finditer(answer_text):
        pass
    if last is None:
        return Extraction(None, "no_anchor")
    line_end = answer_text.find("\n", last.end())
    value = _anchor_value(answer_text[last.end() : line_end if line_end >= 0 else len(answer_text)])
    return Extraction(value, "anchor") if value else Extraction(None, "empty_anchor")


def is_integer_string(s: str) -> bool:
    return _INTEGER.match(s) is not None


def integers_equal(a: str, b: str) -> bool:
    """Equality of two `is_integer_string` values without int(): Python refuses to convert strings of more
    than 4300 digits, and a model can emit one."""

    def canonical(s: str) -> tuple[bool, str]:
        digits = s.lstrip("+-").lstrip("0") or "0"
        return (s.startswith("-") and digits != "0", digits)

    return canonical(a.strip()) == canonical(b.strip())


def base_number(s: str) -> tuple[str, str] | None:
    """(digits, base) of an answer written in a base, e.g. `52_8` -> ("52", "8"); else None.

    math-verify drops the subscript, so `52_9` would equal `52_8`; the reward compares these itself."""
    match = _BASE_NUMBER.fullmatch(remove_whitespace(s))
    if match is None:
        return None
    return match.group(1).upper().lstrip("0") or "0", match.group(2).lstrip("0") or "0"


def remove_whitespace(s: str) -> str:
    return _WHITESPACE.sub("", s)


def normalize_golds(ground_truth: object) -> tuple[str, ...]:
    """The accepted gold answers as strings. A list, tuple or 1-d array (a list after a parquet round
    trip; Skywork-OR1 gives `["2", "x=2"]`) is several accepted golds: any one matching is correct."""
    if hasattr(ground_truth, "tolist") and not isinstance(ground_truth, (str, bytes)):
        ground_truth = ground_truth.tolist()  # numpy array / scalar -> Python objects
    if isinstance(ground_truth, (list, tuple)):
        if not ground_truth:
            raise TypeError("math ground_truth is an empty list: no accepted answer")
        return tuple(normalize_gold(g) for g in ground_truth)
    return (normalize_gold(ground_truth),)


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
        "data-prep stores golds as strings (docs/data-and-eval.md)"
    )


def canonical_answer(pred: str) -> str:
    """maj@k grouping key (docs/data-and-eval.md, majority voting): whitespace and `\\left`/`\\right` removed, `\\dfrac`/`\\tfrac`
    -> `\\frac`, integral floats written as integers. Letters (multiple choice) pass through unchanged."""
    s = remove_whitespace(pred)
    s = _LEFT_RIGHT.sub("", s)
    s = _FRAC_VARIANTS.sub(r"\\frac", s)
    match = _INTEGRAL_FLOAT.match(s)
    if match:  # no int(): it refuses strings of more than 4300 digits
        digits = match.group(1).lstrip("+-").lstrip("0") or "0"
        s = "-" + digits if match.group(1).startswith("-") and digits != "0" else digits
    return s
