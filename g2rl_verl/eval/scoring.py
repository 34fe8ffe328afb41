"""Offline grading of stored generations with the training reward code (docs/data-and-eval.md).

Depends on the rewards package contract (docs/rewards.md):
``g2rl_verl.rewards.compute_score_async(data_source, solution_str, ground_truth, extra_info=None, **kwargs)``
(the function recipes register as verl's custom reward function) returning a dict with
``score, acc, score01, valid, kind_id, pred, latency_s``, and ``g2rl_verl.rewards.canonical_answer`` for the
maj@k voting key. Nothing else of the rewards package is used, so evaluation and training grade
identically. A synchronous reward function is also accepted (then grading is sequential).
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.metadata
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from tqdm import tqdm

from g2rl_verl.eval.records import GenerationRecord, ScoredRecord, stable_hash

# The reward's kind ids (never reordered by the rewards package; docs/rewards.md).
KIND_NAMES = ("correct", "wrong", "no_answer", "format_error", "timeout", "error")
VOTING_KINDS = frozenset({"correct", "wrong"})  # only graded answers vote; no-answer/format/infra do not

# Evaluation grading defaults (docs/rewards.md): run every code test, and let this harness (not the
# training-time guard) decide about infrastructure failures via --max-error-rate.
EVAL_REWARD_KWARGS: dict[str, Any] = {"mode": "eval", "max_infra_failure_rate": 1.0}

ScoreFn = Callable[..., Any]


def load_reward_functions() -> tuple[ScoreFn, Callable[[str], str]]:
    """The training reward function and the maj@k canonicaliser, from the rewards package."""
    try:
        from g2rl_verl.rewards import canonical_answer, compute_score_async
    except ImportError as e:
        raise SystemExit(
            f"cannot import the reward code ({e}); scoring uses g2rl_verl.rewards.compute_score_async and "
            "g2rl_verl.rewards.canonical_answer, exactly as training does"
        ) from e
    return compute_score_async, canonical_answer


def verifier_id(reward_kwargs: dict[str, Any]) -> str:
    try:
        version = importlib.metadata.version("g2rl-verl")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"g2rl_verl.rewards=={version}+kwargs:{stable_hash(reward_kwargs, 8)}"


def _to_scored(
    gen: GenerationRecord, result: dict[str, Any], canonical: Callable[[str], str], verifier: str
) -> ScoredRecord:
    for key in ("score", "acc", "score01", "valid", "kind_id", "pred"):
        if key not in result:
            raise KeyError(
                f"reward result for {gen.benchmark}/{gen.problem_id}#{gen.sample_idx} lacks {key!r}"
            )
    kind_id = int(result["kind_id"])
    if not 0 <= kind_id < len(KIND_NAMES):
        raise ValueError(f"reward returned unknown kind_id {kind_id}")
    kind = KIND_NAMES[kind_id]
    pred = result["pred"] or None  # the adapter writes "" when nothing was extracted
    return ScoredRecord(
        **dataclasses.asdict(gen),
        pred=pred,
        vote=canonical(pred) if pred is not None and kind in VOTING_KINDS else None,
        kind=kind,
        score=float(result["score"]),
        score01=float(result["score01"]),
        correct=float(result["acc"]) == 1.0,
        valid=bool(result["valid"]),
        response_chars=len(gen.response),
        verifier=verifier,
        grading_latency_s=float(result.get("latency_s", 0.0)),
    )


async def _grade_async(
    gens: Sequence[GenerationRecord], fn: ScoreFn, reward_kwargs: dict[str, Any], concurrency: int, desc: str
) -> list[dict[str, Any]]:
    sem = asyncio.Semaphore(concurrency)
    bar = tqdm(total=len(gens), desc=desc, unit="sample")

    async def one(g: GenerationRecord) -> dict[str, Any]:
        async with sem:
            out = fn(g.data_source, g.response, g.ground_truth, extra_info=dict(g.extra), **reward_kwargs)
            if inspect.isawaitable(out):
                out = await out
            bar.update(1)
            return out

    try:
        return await asyncio.gather(*(one(g) for g in gens))
    finally:
        bar.close()


def grade(
    gens: Sequence[GenerationRecord],
    reward_kwargs: dict[str, Any] | None = None,
    concurrency: int = 16,
    reward_fns: tuple[ScoreFn, Callable[[str], str]] | None = None,
) -> list[ScoredRecord]:
    """Grade every generation; ``reward_kwargs`` override `EVAL_REWARD_KWARGS`."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    kwargs = {**EVAL_REWARD_KWARGS, **(reward_kwargs or {})}
    fn, canonical = reward_fns or load_reward_functions()
    desc = f"score {gens[0].benchmark}" if gens else "score"
    results = asyncio.run(_grade_async(gens, fn, kwargs, concurrency, desc))
    verifier = verifier_id(kwargs)
    return [_to_scored(g, r, canonical, verifier) for g, r in zip(gens, results)]


def sandbox_isolation(data_sources: set[str], reward_kwargs: dict[str, Any]) -> str:
    """The isolation level of the sandbox backend that graded code samples, as the backend reports it
    (``sandbox.get_backend(...).isolation``); says so when no benchmark needed the sandbox."""
    from g2rl_verl.rewards.config import RewardConfig
    from g2rl_verl.rewards.registry import UnknownDataSource, resolve

    def routes_to_code(ds: str) -> bool:
        try:
            return resolve(ds).name == "code"
        except UnknownDataSource:
            return False

    if not any(routes_to_code(ds) for ds in data_sources):
        return "not used (no code benchmark)"
    name = reward_kwargs.get("sandbox_backend", RewardConfig.sandbox_backend)
    options = (
        {"url": reward_kwargs["sandbox_url"]} if name == "http" and reward_kwargs.get("sandbox_url") else {}
    )
    try:
        import sandbox

        return f"{name}: {sandbox.get_backend(name, **options).isolation}"
    except Exception as e:  # noqa: BLE001 - the report must still say which backend and why it is unknown
        return f"{name}: isolation unknown ({type(e).__name__}: {e})"
