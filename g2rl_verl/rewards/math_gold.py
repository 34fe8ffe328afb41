"""Gold answers for math: the one rule for "is this gold usable?", shared by the reward and data_prep.

A gold is usable when
1. it is structurally sound: not empty, braces and `\\left`/`\\right` and `\\begin`/`\\end` balanced, an
   even number of unescaped `$`, no `\\sqrt(...)`/`\\frac(...)` argument in parentheses, no dangling
   `^`, `_` or `\\` at the end (`structural_defect`, pure and linear-time: it runs in the reward's caller
   on every sample);
2. math-verify parses it completely in one of the gold forms (`math_parse.GOLD_FORMS`), and
3. the parsed gold verifies against itself (a gold that does not can never score a correct answer).

`gold_defect` returns None for a usable gold, else a short reason; `parse_gold` returns the parsed gold the
verifier compares against (the same parse, so data_prep and the reward can never disagree). The reward
turns a defect into `kind=error` with detail `bad_gold: <reason>` (`valid = 0`): a bad gold is the
dataset's failure, never the candidate's, so it is never scored as a valid wrong (docs/rewards.md,
"Infrastructure failures: who caused it").

Integer golds (`^[+-]?\\d+$`) are usable without math-verify (the reward's integer fast path).
"""

from __future__ import annotations

import re
import threading

from .math_parse import GOLD_FORMS, TIMEOUT_WATCH, gold_config, parse_in_forms

DEFAULT_GOLD_TIMEOUT_S = 5

_INTEGER = re.compile(r"[+-]?\d+")
_TOKENS = re.compile(r"\\(?:left|right|begin|end)(?![A-Za-z])|\\[A-Za-z]+|\\.|[{}$]", re.DOTALL)
_COMMAND = re.compile(r"\\[A-Za-z]+")
# `\sqrt(2)`: math-verify reads it as a bare 4 in `$4\sqrt(2)$` (huggingface/Math-Verify#41).
_PAREN_ARGUMENT = re.compile(r"\\(?:sqrt|d?t?frac)[ \t]*+\(")


def structural_defect(gold: str) -> str | None:
    """A reason when the gold is visibly broken (truncated or unbalanced), else None. Linear time."""
    if not gold.strip():
        return "empty gold"
    open_braces: list[int] = []  # positions of unclosed `{`
    left_right = begin_end = dollars = 0
    for token in _TOKENS.finditer(gold):
        t = token.group()
        if t == "{":
            open_braces.append(token.start())
        elif t == "}":
            if not open_braces:
                return f"unbalanced braces: unmatched }} at {token.start()}"
            open_braces.pop()
        elif t == "$":
            dollars += 1
        elif t == "\\left":
            left_right += 1
        elif t == "\\right":
            left_right -= 1
        elif t == "\\begin":
            begin_end += 1
        elif t == "\\end":
            begin_end -= 1
    if open_braces:
        at = open_braces[0]  # the outermost unclosed group names the truncation best
        commands = _COMMAND.findall(gold, max(0, at - 40), at)
        inside = commands[-1] + "{" if commands else "{"
        return f"truncated: ends inside {inside} (unbalanced braces)"
    if left_right:
        return "unbalanced \\left/\\right"
    if begin_end:
        return "unbalanced \\begin/\\end"
    if dollars % 2:
        return "unbalanced $"
    malformed = _PAREN_ARGUMENT.search(gold)
    if malformed:
        return f"malformed: {malformed.group().rstrip('( ')} takes a {{...}} argument, not (...)"
    stripped = gold.rstrip()
    if stripped.endswith(("^", "_")) or (stripped.endswith("\\") and not stripped.endswith("\\\\")):
        return f"truncated: ends with {stripped[-1]!r}"
    return None


def is_integer_gold(gold: str) -> bool:
    return _INTEGER.fullmatch(gold.strip()) is not None


def parse_gold(gold: str, timeout_s: int = DEFAULT_GOLD_TIMEOUT_S) -> tuple[list | None, str | None]:
    """(parsed gold, None) or (None, defect reason). Main thread only (math-verify's SIGALRM timeouts).

    This is the parse the verifier compares predictions against."""
    defect = structural_defect(gold)
    if defect is not None:
        return None, defect
    from math_verify import verify

    parsed, _form, timed_out = parse_in_forms(gold, GOLD_FORMS, gold_config(), timeout_s)
    if parsed is None:
        reason = "math-verify timed out parsing it" if timed_out else "math-verify cannot parse"
        return None, reason
    snapshot = TIMEOUT_WATCH.count
    same = verify(parsed, parsed, timeout_seconds=timeout_s)
    timed_out = TIMEOUT_WATCH.fired_since(snapshot)
    if not same:
        reason = "math-verify timed out verifying it" if timed_out else "does not verify against itself"
        return None, reason
    return parsed, None


def gold_defect(gold: str, timeout_s: int = DEFAULT_GOLD_TIMEOUT_S) -> str | None:
    """None if `gold` is usable, else a short reason ("truncated: ends inside \\frac{", ...).

    Safe anywhere: in a main thread it checks in-process (math-verify's SIGALRM timeouts work there);
    from any other thread it runs the same check in the reward's math-verify worker pool, whose workers
    check in their own main thread."""
    if not isinstance(gold, str):
        raise TypeError(f"gold must be a str, got {type(gold).__name__}")
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int) or timeout_s <= 0:
        raise ValueError(
            f"timeout_s must be a positive int (math-verify uses signal.alarm), got {timeout_s!r}"
        )
    defect = structural_defect(gold)
    if defect is not None or is_integer_gold(gold):
        return defect
    if threading.current_thread() is threading.main_thread():
        TIMEOUT_WATCH.install(quiet=False)
        return parse_gold(gold, timeout_s)[1]
    from .math_pool import get_math_pool

    verdict, detail, _pred, _gold_ok = get_math_pool(1).run(
        "gold_defect", (gold, timeout_s), 4.0 * timeout_s + 10.0
    )
    if verdict == "ok":
        return None
    if verdict == "bad_gold":
        return detail
    raise RuntimeError(f"math-verify worker pool could not check the gold ({verdict}: {detail})")
