"""Math verifier (docs/rewards.md, "Math reward"): gold check -> think handling -> extraction ->
string / integer / math-verify comparison.

Cheap steps run in the caller: the structural gold check (`math_gold.structural_defect`), the think cut,
strict extraction, whitespace-free string equality and the integer fast path (AIME-style golds never reach
math-verify). They are linear in the text and run in the pool's waiting threads, never on the event loop.
Only math-verify work goes to the worker processes (math_pool.py), under int signal timeouts inside the
worker and a hard deadline enforced by the parent.

Who caused a failure (docs/rewards.md, "Infrastructure failures: who caused it"):
- a gold that is truncated, unbalanced, or that math-verify cannot parse in any form: `error/bad_gold`,
  `valid = 0` (the dataset's fault; data_prep rejects such rows with the same `math_gold` rule);
- a math-verify timeout or an expired deadline after the worker reported the gold good: the candidate's
  answer caused it, `timeout` scored wrong with `valid = 1`;
- an expired deadline before the gold was known good, or a worker that crashed twice: `valid = 0`.
A fast-path verdict needs a usable gold too: an integer gold is usable by construction; any other gold is
trusted on the fast path only once a worker has parsed it (`_GOLD_STATUS`).

Deadline: `math_deadline_s` bounds the work done for the call: extraction counts against it and the pool
task gets what is left, so a call's own work ends within its deadline whatever the text. Waiting for a
free thread or worker behind other calls is not the call's work and is not counted (it is bounded by
the pool's acquire timeout instead).
An extracted answer longer than `MAX_ANSWER_CHARS` is scored wrong without math-verify (`answer_too_long`):
no gold is anywhere near that long, and parsing megabytes would only burn the deadline.
"""

from __future__ import annotations

import collections
import threading
import time

from .math_extract import (
    extract_strict,
    integers_equal,
    is_integer_string,
    normalize_golds,
    remove_whitespace,
)
from .math_gold import is_integer_gold, structural_defect
from .math_pool import Reply, get_math_pool
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
MAX_ANSWER_CHARS = 4096


class _GoldStatus:
    """Golds a worker has already judged usable, so the fast path can trust them (bounded LRU)."""

    def __init__(self, size: int = 65536) -> None:
        self._usable: collections.OrderedDict[tuple[str, ...], None] = collections.OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def usable(self, golds: tuple[str, ...]) -> bool:
        if all(is_integer_gold(g) for g in golds):
            return True
        with self._lock:
            return golds in self._usable

    def clear(self) -> None:
        with self._lock:
            self._usable.clear()

    def mark_usable(self, golds: tuple[str, ...]) -> None:
        with self._lock:
            self._usable[golds] = None
            self._usable.move_to_end(golds)
            if len(self._usable) > self._size:
                self._usable.popitem(last=False)


_GOLD_STATUS = _GoldStatus()


def _result_from_reply(reply: Reply, pred: str | None) -> VerifyResult:
    verdict, detail, worker_pred, gold_ok = reply
    kind = Kind(verdict)
    return VerifyResult(
        kind=kind,
        detail=detail,
        score01=1.0 if kind is Kind.CORRECT else 0.0,
        pred=worker_pred if worker_pred is not None else pred,
        # A timeout after the gold was known good is the candidate's (scored wrong, valid).
        valid=True if kind is Kind.TIMEOUT and gold_ok else None,
    )


def _golds(request: VerifyRequest) -> tuple[str, ...] | VerifyResult:
    try:
        golds = normalize_golds(request.ground_truth)
    except TypeError as exc:
        return VerifyResult(Kind.ERROR, detail=f"bad_gold: {exc}")
    defects = [structural_defect(g) for g in golds]
    usable = tuple(g for g, d in zip(golds, defects) if d is None)
    if not usable:
        return VerifyResult(Kind.ERROR, detail=f"bad_gold: {defects[0]} ({golds[0][:60]!r})")
    return usable


def _prepare(request: VerifyRequest) -> VerifyResult | tuple[str, tuple]:
    """Either a final result (decided without math-verify) or the pool task to run. Linear in the text."""
    golds = _golds(request)
    if isinstance(golds, VerifyResult):
        return golds
    region = answer_region(request.solution_str, request.think_mode)
    if region.text is None:
        return VerifyResult(Kind.FORMAT_ERROR, detail=region.format_error)
    cfg = request.config
    timeouts = (cfg.math_parse_timeout_s, cfg.math_verify_timeout_s)
    if cfg.extraction == "mathverify":
        return ("mathverify", (golds, region.text, *timeouts))

    extraction = extract_strict(region.text)
    pred = extraction.answer
    if pred is None:
        return VerifyResult(Kind.NO_ANSWER, detail=extraction.detail)
    if _GOLD_STATUS.usable(golds):
        flat = remove_whitespace(pred)
        if any(remove_whitespace(g) == flat for g in golds):
            return VerifyResult(Kind.CORRECT, detail="string_equal", score01=1.0, pred=pred)
        if is_integer_string(pred) and all(is_integer_string(g) for g in golds):
            same = any(integers_equal(pred, g) for g in golds)
            return VerifyResult(Kind.CORRECT if same else Kind.WRONG, "integer", 1.0 if same else 0.0, pred)
        if len(pred) > MAX_ANSWER_CHARS:
            return VerifyResult(Kind.WRONG, detail="answer_too_long", pred=pred)
    elif len(pred) > MAX_ANSWER_CHARS:
        # Still wrong, once a worker has vouched for the gold (it sees a length above the cap).
        pred = pred[: MAX_ANSWER_CHARS + 1]
    return ("extracted", (golds, pred, *timeouts))


def _verify_blocking(request: VerifyRequest) -> VerifyResult:
    started = time.perf_counter()
    prepared = _prepare(request)
    if isinstance(prepared, VerifyResult):
        return prepared
    task, args = prepared
    pool = get_math_pool(request.config.math_pool_size)
    remaining = request.config.math_deadline_s - (time.perf_counter() - started)
    reply = pool.run(task, args, max(remaining, 0.0))
    if reply[3]:
        _GOLD_STATUS.mark_usable(args[0])
    return _result_from_reply(reply, args[1] if task == "extracted" else None)


@register_verifier("math", data_sources=MATH_DATA_SOURCES, prefixes=MATH_PREFIXES)
async def verify_math(request: VerifyRequest) -> VerifyResult:
    # Extraction and the pool wait both run in the pool's waiting threads: nothing text-dependent runs
    # on the caller's event loop.
    pool = get_math_pool(request.config.math_pool_size)
    return await pool.in_thread(lambda: _verify_blocking(request))
