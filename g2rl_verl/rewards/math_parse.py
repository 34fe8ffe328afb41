"""The one way this package parses an answer string with math-verify (golds and extracted predictions).

An answer string (a gold, or what strict extraction took out of a response) is tried in each of its
forms in turn; the first form that math-verify parses *completely* wins. Complete means: a sympy value
plus the matched string, and that matched string is not a truncated prefix (its braces balance).

- Golds (`GOLD_FORMS`): `\\boxed{s}`, then `$s$`. Some valid golds parse only the second way: `17\\%`,
  `30^\\circ.` or `7\\text{ hours}.` give nothing inside `\\boxed{}` but parse inside `$...$`.
- Predictions (`PRED_FORMS`): `\\boxed{s}` only. The `$...$` path is more lenient with malformed LaTeX
  (`$4\\sqrt(2)$` parses as 4: huggingface/Math-Verify#41), and a candidate must not earn reward from
  malformed LaTeX. So `\\boxed{17}` against gold `17\\%` is correct, while a predicted `17.0\\%` is not
  (an unparsable prediction; `17\\%` itself matches by string).
- The completeness check: `$1-\\frac{1}{\\mathrm{x}}$` would otherwise "parse" as its prefix
  `1-\\frac{1}{`, i.e. 1.

Before parsing, `normalize_answer` applies the rewrites math-verify lacks (same rewrite on both sides,
so comparisons stay symmetric):
- `\\mathrm{e}` -> `e` (Euler's number; math-verify reads `\\mathrm{e}` as a plain symbol, or truncates at
  it inside `\\frac`);
- the `,\\!` thousands separator between digits is removed (`\\dfrac{2469}{20,\\!000}` fails otherwise);
- `\\phantom{...}` is removed (it only reserves space; math-verify misreads `\\phantom -1` in matrices);
- one trailing `\\%` and one trailing period are dropped: math-verify's own convention is that `28\\%`
  equals 28 (its test suite), but inside `\\boxed{}` it parses neither `20 \\%` nor `2/3.`.

math-verify's timeouts are SIGALRM-based: every function here that parses or verifies must run in a main
thread (the pool workers, or a plain process). math-verify swallows its own timeouts with
`raise_on_error=False` (it logs "Timeout during ..." and returns `[]`/False), so `TimeoutWatch` counts those
log records: a swallowed timeout must never read as "unparsable" or "wrong". Parsed sympy objects are never
stringified here: `str()` of some of them never returns (power towers).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

GOLD_FORMS: tuple[tuple[str, str], ...] = (("boxed", "\\boxed{%s}"), ("dollar", "$%s$"))
PRED_FORMS: tuple[tuple[str, str], ...] = (("boxed", "\\boxed{%s}"),)

_MATHRM_E = re.compile(r"\\mathrm\s*\{\s*e\s*\}")
_THOUSANDS_SEP = re.compile(r"(?<=\d),\\!\s*(?=\d)")
# `\phantom{X}` / `\phantom X` only reserves space (MATH aligns matrix entries with `\phantom -1`);
# math-verify reads the hidden sign, and its pmatrix then compares equal to a different matrix.
_PHANTOM = re.compile(r"\\phantom\s*+(?:\{[^{}]*\}|\\[A-Za-z]+|[^\s{}\\])")

_MATH_VERIFY_LOGGERS = ("math_verify.parser", "math_verify.grader")


def normalize_answer(s: str) -> str:
    """Rewrites applied to golds and predictions alike before math-verify sees them (module docstring)."""
    s = _PHANTOM.sub("", _THOUSANDS_SEP.sub("", _MATHRM_E.sub("e", s))).rstrip()
    if s.endswith(".") and not s.endswith(".."):  # not an ellipsis
        s = s[:-1].rstrip()
    if s.endswith("%"):  # string operations, not a `\s*%$` regex: that rescans long space runs
        s = s[:-1]
        s = (s.removesuffix("\\")).rstrip()
    return s


def braces_balanced(s: str) -> bool:
    """True when every unescaped `{` has its `}` (linear; `\\{`, `\\}` and `\\\\` are literal)."""
    depth = 0
    for token in _BRACE_TOKENS.finditer(s):
        t = token.group()
        if t == "{":
            depth += 1
        elif t == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


_BRACE_TOKENS = re.compile(r"\\.|[{}]", re.DOTALL)


class TimeoutWatch(logging.Handler):
    """Counts math-verify's "Timeout during parsing/comparison" warnings (never formats their args).

    Snapshot `count` before a block and call `fired_since(snapshot)` after it. Counting is meant for
    single-threaded users: the pool workers, or a plain process checking golds."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        # record.msg is math-verify's f-string (raw input text only, never a sympy object).
        if isinstance(record.msg, str) and record.msg.startswith("Timeout during"):
            self.count += 1

    def fired_since(self, snapshot: int) -> bool:
        return self.count > snapshot

    def install(self, quiet: bool) -> None:
        """Attach to math-verify's loggers; `quiet` also stops propagation (pool workers keep stderr clean)."""
        for name in _MATH_VERIFY_LOGGERS:
            logger = logging.getLogger(name)
            if logger.level == logging.NOTSET or logger.level > logging.WARNING:
                logger.setLevel(logging.WARNING)
            if quiet:
                logger.propagate = False
            if self not in logger.handlers:
                logger.addHandler(self)


TIMEOUT_WATCH = TimeoutWatch()


def gold_config() -> tuple:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    return (LatexExtractionConfig(), ExprExtractionConfig())


def pred_config() -> tuple:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    return (LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig())


def is_complete_parse(parsed: Sequence) -> bool:
    """math-verify produced a value (not just its raw-string fallback) for a non-truncated match."""
    return (
        len(parsed) >= 2
        and not isinstance(parsed[0], str)
        and isinstance(parsed[1], str)
        and braces_balanced(parsed[1])
    )


def parse_in_forms(
    answer: str, forms: Sequence[tuple[str, str]], config: Sequence, timeout_s: int
) -> tuple[list | None, str, bool]:
    """(parsed, form name, timed_out): the first of `forms` math-verify parses completely.

    `parsed` is None when no form parses; `timed_out` says a math-verify timeout fired on the way (then
    "no form parses" is not a verdict about the string). Main thread only (SIGALRM)."""
    from math_verify import parse

    text = normalize_answer(answer)
    snapshot = TIMEOUT_WATCH.count
    for name, template in forms:
        parsed = parse(template % text, list(config), parsing_timeout=timeout_s)
        if is_complete_parse(parsed):
            return parsed, name, TIMEOUT_WATCH.fired_since(snapshot)
    return None, "", TIMEOUT_WATCH.fired_since(snapshot)
