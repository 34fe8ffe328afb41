"""Math verifier (rewards.md §3): think handling -> extraction -> string / integer / math-verify comparison.

Cheap steps run in the caller: think cut, strict extraction, whitespace-free string equality and the
integer fast path (AIME-style golds never reach math-verify). Only the symbolic comparison goes to the
persistent worker pool (math_pool.py), under int signal timeouts inside the worker and a hard deadline
enforced by the parent.
"""

from __future__ import annotations

from .math_extract import extract_strict, integers_equal, is_integer_string, normalize_gold, remove_whitespace
from .math_pool import get_math_pool
from .registry import VerifyRequest, register_verifier
from .result import Kind, VerifyResult
from .think import answer_region

MATH_DATA_SOURCES = (
    "MATH-TTT",
    "lighteval/MATH",
    "DigitalLearningGmbH/MATH-lighteval",
    "HuggingFaceH4/MATH-500",
    "math_dapo",
    "math",
    "math_dapo_reasoning",
    "openai/gsm8k",
    "amc23",
    "amc",
    "math500",
    "hmmt_feb2025",
)
MATH_PREFIXES = ("math_longcot_math_verify", "aime", "numina_")


def _result_from_reply(reply: tuple, pred: str | None) -> VerifyResult:
    verdict, detail, worker_pred = reply
    kind = Kind(verdict)
    return VerifyResult(
        kind=kind,
        detail=detail,
        score01=1.0 if kind is Kind.CORRECT else 0.0,
        pred=worker_pred if worker_pred is not None else pred,
    )


def _prepare(request: VerifyRequest) -> VerifyResult | tuple[str, tuple]:
    """Either a final result (decided without math-verify) or the pool task to run."""
    try:
        gold = normalize_gold(request.ground_truth)
    except TypeError as exc:
        return VerifyResult(Kind.ERROR, detail=f"bad_ground_truth: {exc}")
    if not gold:
        return VerifyResult(Kind.ERROR, detail="bad_ground_truth: empty gold")
    region = answer_region(request.solution_str, request.think_mode)
    if region.text is None:
        return VerifyResult(Kind.FORMAT_ERROR, detail=region.format_error)
    cfg = request.config
    timeouts = (cfg.math_parse_timeout_s, cfg.math_verify_timeout_s)
    if cfg.extraction == "mathverify":
        return ("mathverify", (gold, region.text, *timeouts))

    extraction = extract_strict(region.text)
    pred = extraction.answer
    if pred is None:
        return VerifyResult(Kind.NO_ANSWER, detail=extraction.detail)
    if remove_whitespace(pred) == remove_whitespace(gold):
        return VerifyResult(Kind.CORRECT, detail="string_equal", score01=1.0, pred=pred)
    if is_integer_string(pred) and is_integer_string(gold):
        same = integers_equal(pred, gold)
        return VerifyResult(Kind.CORRECT if same else Kind.WRONG, "integer", 1.0 if same else 0.0, pred)
    return ("extracted", (gold, pred, *timeouts))


@register_verifier("math", data_sources=MATH_DATA_SOURCES, prefixes=MATH_PREFIXES)
async def verify_math(request: VerifyRequest) -> VerifyResult:
    prepared = _prepare(request)
    if isinstance(prepared, VerifyResult):
        result = prepared
    else:
        task, args = prepared
        pool = get_math_pool(request.config.math_pool_size)
        reply = await pool.run_async(task, args, request.config.math_deadline_s)
        result = _result_from_reply(reply, args[1] if task == "extracted" else None)
    return result
