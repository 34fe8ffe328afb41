"""Resumable sampling of n responses per problem (docs/data-and-eval.md, "Evaluation harness").

The loop here is engine-agnostic (`Engine` protocol); `VLLMEngine` is the production engine and the
only module that imports vLLM (lazily, so `score` works on machines without it).

Seeds: sample i of problem p is drawn with its own seed derived from (run seed, problem id, i). A
sample therefore does not depend on batch composition or on n, which is what makes resuming (and later
raising n) reproduce the same samples an uninterrupted run would have drawn, up to engine
nondeterminism.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from g2rl_verl.eval.datasets import Problem
from g2rl_verl.eval.records import (
    GenerationRecord,
    append_records,
    atomic_write_json,
    read_generations,
    repair_torn_tail,
    stable_hash,
)

logger = logging.getLogger(__name__)

VLLM_MISSING = (
    "vLLM is not installed: it is needed only for `python -m g2rl_verl.eval generate` (install the `gpu` "
    "extra on a GPU machine: pip install 'g2rl-verl[gpu]'). Scoring existing generation files with "
    "`python -m g2rl_verl.eval score` works on CPU without it."
)


def require_vllm() -> None:
    """Fail early, before any data or model loading, with the install hint."""
    try:
        import vllm  # noqa: F401
    except ImportError as e:
        raise SystemExit(VLLM_MISSING) from e


@dataclass(frozen=True)
class SamplingConfig:
    """Everything that changes the distribution of a response. Its hash (`config_hash`) is written on every
    generation line; resuming with a different hash is refused.

    ``n`` is deliberately not hashed: per-sample seeds make sample i independent of n, so a run may be
    extended from n=16 to n=32 by resuming.
    """

    model: str
    model_revision: str | None = None
    n: int = 1
    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int = -1
    max_tokens: int = 32768
    repetition_penalty: float = 1.0
    seed: int = 0
    system_prompt: str | None = None
    enable_thinking: bool | None = None  # chat_template_kwargs.enable_thinking; None = template default
    rope_scaling: dict[str, Any] | None = None  # e.g. {"rope_type": "yarn", "factor": 2.5, ...}
    max_model_len: int | None = None

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")

    def config_hash(self) -> str:
        d = dataclasses.asdict(self)
        d.pop("n")
        return stable_hash(d)


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


class Engine(Protocol):
    def generate(self, requests: Sequence[tuple[tuple[dict[str, str], ...], int]]) -> list[Completion]:
        """One completion per (messages, seed) request, in order."""


def sample_seed(run_seed: int, problem_id: str, sample_idx: int) -> int:
    digest = hashlib.sha256(f"{run_seed}\x00{problem_id}\x00{sample_idx}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


@dataclass
class GenerationPlan:
    todo: list[tuple[Problem, int]] = field(default_factory=list)
    done: int = 0


def plan_generation(problems: Sequence[Problem], cfg: SamplingConfig, out_path: Path) -> GenerationPlan:
    """The (problem, sample_idx) pairs still missing from ``out_path``; refuses a file written with other
    settings. A torn final line from an interrupted append is removed first."""
    plan = GenerationPlan()
    present: set[tuple[str, int]] = set()
    if out_path.exists():
        if repair_torn_tail(out_path):
            logger.warning("%s: removed an incomplete final line left by an interrupted run", out_path)
        want = cfg.config_hash()
        for r in read_generations(out_path):
            if r.config_hash != want:
                raise ValueError(
                    f"{out_path} holds samples generated with settings hash {r.config_hash}, but the current "
                    f"settings hash to {want}. Resuming would mix distributions: write to another --out-dir "
                    "or delete the file to regenerate."
                )
            present.add(r.key)
    for p in problems:
        for i in range(cfg.n):
            if (p.problem_id, i) in present:
                plan.done += 1
            else:
                plan.todo.append((p, i))
    return plan


def run_generation(
    problems: Sequence[Problem],
    cfg: SamplingConfig,
    engine: Engine,
    out_path: Path,
    batch_size: int = 512,
    provenance: dict[str, Any] | None = None,
) -> int:
    """Generate every missing sample, appending each finished batch. Returns the number generated."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    plan = plan_generation(problems, cfg, out_path)
    atomic_write_json(
        out_path.with_name(out_path.name.replace(".generations.jsonl", ".run.json")),
        {"sampling": dataclasses.asdict(cfg), "config_hash": cfg.config_hash(), **(provenance or {})},
    )
    if plan.done:
        logger.info("%s: %d samples present, %d to generate", out_path, plan.done, len(plan.todo))
    h = cfg.config_hash()
    with tqdm(total=len(plan.todo), desc=f"generate {out_path.name}", unit="sample") as bar:
        for start in range(0, len(plan.todo), batch_size):
            batch = plan.todo[start : start + batch_size]
            seeds = [sample_seed(cfg.seed, p.problem_id, i) for p, i in batch]
            completions = engine.generate([(p.messages, s) for (p, _), s in zip(batch, seeds)])
            if len(completions) != len(batch):
                raise RuntimeError(
                    f"engine returned {len(completions)} completions for {len(batch)} requests"
                )
            append_records(
                out_path,
                [
                    GenerationRecord(
                        benchmark=p.benchmark,
                        problem_id=p.problem_id,
                        sample_idx=i,
                        seed=s,
                        data_source=p.data_source,
                        ground_truth=p.ground_truth,
                        prompt_hash=stable_hash(list(p.messages)),
                        config_hash=h,
                        model=cfg.model,
                        model_revision=cfg.model_revision,
                        response=c.text,
                        finish_reason=c.finish_reason,
                        prompt_tokens=c.prompt_tokens,
                        completion_tokens=c.completion_tokens,
                        truncated=c.finish_reason == "length",
                        extra=dict(p.extra),
                    )
                    for (p, i), s, c in zip(batch, seeds, completions)
                ],
            )
            bar.update(len(batch))
    return len(plan.todo)


BACKENDS = ("vllm", "hf")


def make_engine(backend: str, cfg: SamplingConfig, **options: Any) -> Engine:
    """The generation engine of ``backend``: ``vllm`` (GPU) or ``hf`` (transformers, CPU or GPU).

    ``options`` go to the engine: vllm takes tensor_parallel_size / gpu_memory_utilization, hf takes
    device / batch_size (see :mod:`g2rl_verl.eval.hf_generation`).
    """
    if backend == "vllm":
        return VLLMEngine(cfg, **options)
    if backend == "hf":
        from g2rl_verl.eval.hf_generation import HFEngine

        return HFEngine(cfg, **options)
    raise ValueError(f"unknown generation backend {backend!r}; choose one of {BACKENDS}")


class VLLMEngine:
    """vLLM offline engine (`LLM.chat`). Depends on vLLM's `LLM`, `SamplingParams` and the
    `RequestOutput.outputs[0].{text, finish_reason, token_ids}` / `prompt_token_ids` fields."""

    def __init__(
        self, cfg: SamplingConfig, tensor_parallel_size: int = 1, gpu_memory_utilization: float = 0.9
    ):
        try:
            import vllm
        except ImportError as e:
            raise SystemExit(VLLM_MISSING) from e
        self._vllm = vllm
        self._cfg = cfg
        kwargs: dict[str, Any] = {
            "model": cfg.model,
            "revision": cfg.model_revision,
            "tensor_parallel_size": tensor_parallel_size,
            "gpu_memory_utilization": gpu_memory_utilization,
            "enable_prefix_caching": True,
            "seed": cfg.seed,
        }
        if cfg.max_model_len is not None:
            kwargs["max_model_len"] = cfg.max_model_len
        if cfg.rope_scaling is not None:
            kwargs["hf_overrides"] = {"rope_scaling": cfg.rope_scaling}
        self._llm = vllm.LLM(**kwargs)

    def generate(self, requests: Sequence[tuple[tuple[dict[str, str], ...], int]]) -> list[Completion]:
        cfg = self._cfg
        params = [
            self._vllm.SamplingParams(
                n=1,
                temperature=cfg.temperature,
                top_p=cfg.top_p,
                top_k=cfg.top_k,
                max_tokens=cfg.max_tokens,
                repetition_penalty=cfg.repetition_penalty,
                seed=seed,
            )
            for _, seed in requests
        ]
        chat_kwargs = {} if cfg.enable_thinking is None else {"enable_thinking": cfg.enable_thinking}
        outputs = self._llm.chat(
            [list(m) for m, _ in requests], params, use_tqdm=False, chat_template_kwargs=chat_kwargs or None
        )
        return [
            Completion(
                text=o.outputs[0].text,
                finish_reason=str(o.outputs[0].finish_reason),
                prompt_tokens=len(o.prompt_token_ids or ()),
                completion_tokens=len(o.outputs[0].token_ids),
            )
            for o in outputs
        ]
