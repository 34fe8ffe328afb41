"""Multiple-choice verifier for GPQA / MMLU-Pro (docs/rewards.md, "Multiple choice").

Extraction after the last `</think>`: the last `\\boxed{...}` whose content is a single allowed letter
(after removing `\\text{}`-style wrappers, parentheses and spaces); else the last "Answer: X" /
"answer is (X)" / "answer is X"; else no answer. There is no random guess.

Linear time on any text: boxes come from one scan (`math_extract.box_spans`), only boxes short enough to
hold a wrapped letter are inspected, and the anchor pattern uses possessive quantifiers (adjacent `\\s*`
groups would otherwise backtrack polynomially on long runs of spaces).
"""

from __future__ import annotations

import re

from .math_extract import box_spans
from .registry import VerifyRequest, register_verifier
from .result import Kind, VerifyResult
from .think import answer_region

MC_DATA_SOURCES = ("gpqa_diamond", "mmlu_pro")
_LETTERS_BY_PREFIX = {"gpqa": "ABCD", "mmlu_pro": "ABCDEFGHIJ"}
_DEFAULT_LETTERS = "ABCDEFGHIJ"
_TEXT_WRAPPER = re.compile(r"\\(?:text|textbf|mathrm|mathbf)\s*\{([^{}]*)\}")
_ANCHOR = re.compile(r"answer(?:\s*+:|\s++is)[\s*$(]*+([A-Za-z])(?![A-Za-z])", re.IGNORECASE)
# `\\textbf{ (B) }` and the like fit easily; longer box contents cannot be a single wrapped letter.
_MAX_LETTER_BOX_CHARS = 64


def allowed_letters(data_source: str) -> str:
    for prefix, letters in _LETTERS_BY_PREFIX.items():
        if data_source.startswith(prefix):
            return letters
    return _DEFAULT_LETTERS


def _box_letter(content: str, letters: str) -> str | None:
    s = _TEXT_WRAPPER.sub(r"\1", content)
    s = re.sub(r"[\s()$]", "", s)
    return s if len(s) == 1 and s in letters else None


def extract_letter(answer_text: str, letters: str) -> str | None:
    starts, ends, _ = box_spans(answer_text)
    for i in sorted(range(len(starts)), key=starts.__getitem__, reverse=True):  # the last-opened box first
        if ends[i] - starts[i] <= _MAX_LETTER_BOX_CHARS:
            letter = _box_letter(answer_text[starts[i] : ends[i]], letters)
            if letter is not None:
                return letter
    found = None
    for match in _ANCHOR.finditer(answer_text):
        if match.group(1) in letters:
            found = match.group(1)
    return found


@register_verifier("mc", data_sources=MC_DATA_SOURCES, prefixes=("gpqa_", "mmlu_pro_"))
def verify_mc(request: VerifyRequest) -> VerifyResult:
    letters = allowed_letters(request.data_source)
    gold = re.sub(r"[\s()]", "", str(request.ground_truth)) if isinstance(request.ground_truth, str) else ""
    if len(gold) != 1 or gold.upper() not in letters:
        result = VerifyResult(Kind.ERROR, detail=f"bad_ground_truth: expected one letter of {letters}")
    else:
        region = answer_region(request.solution_str, request.think_mode)
        if region.text is None:
            result = VerifyResult(Kind.FORMAT_ERROR, detail=region.format_error)
        else:
            pred = extract_letter(region.text, letters)
            if pred is None:
                result = VerifyResult(Kind.NO_ANSWER, detail="no_letter")
            elif pred == gold.upper():
                result = VerifyResult(Kind.CORRECT, detail="letter", score01=1.0, pred=pred)
            else:
                result = VerifyResult(Kind.WRONG, detail="letter", pred=pred)
    return result
