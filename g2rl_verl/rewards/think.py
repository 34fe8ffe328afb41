"""Think-tag handling: which part of a response is the final answer.

See docs/rewards.md, "Think handling".

The answer is always cut at the LAST `</think>` when one is present: math-verify has no think awareness,
so a `\\boxed{3}` inside the reasoning would otherwise be rewarded.
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN_THINK = "<think>"
CLOSE_THINK = "</think>"


@dataclass(frozen=True)
class AnswerRegion:
    text: str | None  # None when the think rule is violated
    format_error: str = ""  # detail for the format_error verdict ("missing_close_think", ...)


def answer_region(response: str, think_mode: str) -> AnswerRegion:
    close_at = response.rfind(CLOSE_THINK)
    if think_mode in ("require_both", "prompt_opens_think") and close_at < 0:
        return AnswerRegion(None, "missing_close_think")
    if think_mode == "require_both" and OPEN_THINK not in response:
        return AnswerRegion(None, "missing_open_think")
    if think_mode not in ("require_both", "prompt_opens_think", "none"):
        raise ValueError(f"unknown think_mode {think_mode!r}")
    return AnswerRegion(response[close_at + len(CLOSE_THINK) :] if close_at >= 0 else response)
