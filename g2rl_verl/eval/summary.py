"""Per-benchmark metric summary from scored samples (definitions: docs/data-and-eval.md, "Evaluation metrics")."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from g2rl_verl.eval import metrics
from g2rl_verl.eval.records import ScoredRecord

INFRA_KINDS = ("timeout", "error")
MAX_BREAKDOWN_GROUPS = 30  # extra fields with more distinct values (ids, urls) are not broken down


@dataclass
class MetricValue:
    value: float  # fraction in [0, 1]
    ci_low: float | None = None
    ci_high: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "ci95": None if self.ci_low is None else [self.ci_low, self.ci_high]}


@dataclass
class BenchmarkSummary:
    benchmark: str
    num_problems: int
    n: int  # samples per problem
    metrics: dict[str, MetricValue]  # "avg@8", "pass@4", "maj@16", "verl_best@4", "verl_maj@4"
    pass_curve: dict[int, float]  # k -> unbiased pass@k
    kind_counts: dict[str, int]
    truncation_rate: float
    no_answer_rate: float  # kinds no_answer + format_error
    infra_failure_rate: float  # kinds timeout + error (counted as incorrect in accuracy)
    mean_completion_tokens: float
    mean_response_chars: float
    maj_seed: int
    maj_subsets: int
    maj_exact_ks: list[int] = field(default_factory=list)  # maj@k computed over every k-subset
    data_sources: list[str] = field(default_factory=list)
    breakdowns: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    config_hashes: list[str] = field(default_factory=list)
    verifiers: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "num_problems": self.num_problems,
            "samples_per_problem": self.n,
            "metrics": {k: v.as_dict() for k, v in self.metrics.items()},
            "pass_at_k_curve": {str(k): v for k, v in self.pass_curve.items()},
            "kind_counts": self.kind_counts,
            "truncation_rate": self.truncation_rate,
            "no_answer_rate": self.no_answer_rate,
            "infra_failure_rate": self.infra_failure_rate,
            "mean_completion_tokens": self.mean_completion_tokens,
            "mean_response_chars": self.mean_response_chars,
            "maj": {
                "seed": self.maj_seed,
                "subsets": self.maj_subsets,
                "exact_ks": self.maj_exact_ks,
                "ties": "exact expectation",
                "subsets_drawn": "without replacement (every subset when C(n, k) <= subsets: exact)",
            },
            "data_sources": self.data_sources,
            "verl_bootstrap": {
                "seed": 42,
                "resamples": metrics.DEFAULT_NUM_BOOTSTRAP,
                "draws": "with replacement",
                "ties": "first occurrence",
            },
            "breakdowns": self.breakdowns,
            "models": self.models,
            "config_hashes": self.config_hashes,
            "verifiers": self.verifiers,
        }


def group_by_problem(records: Sequence[ScoredRecord]) -> list[list[ScoredRecord]]:
    """Samples grouped per problem (first-appearance order, samples by index). Refuses duplicates and
    problems with different sample counts, since every estimator here assumes a common n."""
    by_pid: dict[str, dict[int, ScoredRecord]] = defaultdict(dict)
    for r in records:
        if r.sample_idx in by_pid[r.problem_id]:
            raise ValueError(f"{r.benchmark}: duplicate sample {r.problem_id}#{r.sample_idx}")
        by_pid[r.problem_id][r.sample_idx] = r
    groups = [[s[i] for i in sorted(s)] for s in by_pid.values()]
    ns = Counter(len(g) for g in groups)
    if len(ns) > 1:
        n_max = max(ns)
        short = [g[0].problem_id for g in groups if len(g) < n_max][:5]
        raise ValueError(
            f"problems have unequal sample counts {dict(ns)} (e.g. {short} have fewer than {n_max}); "
            "rerun `generate` with the same settings to finish the missing samples"
        )
    return groups


def summarize(
    records: Sequence[ScoredRecord],
    maj_ks: Sequence[int] | None = None,
    seed: int = 0,
    num_subsets: int = metrics.DEFAULT_NUM_SUBSETS,
    num_bootstrap: int = metrics.DEFAULT_NUM_BOOTSTRAP,
) -> BenchmarkSummary:
    if not records:
        raise ValueError("no scored samples to summarise")
    benchmarks = {r.benchmark for r in records}
    if len(benchmarks) != 1:
        raise ValueError(f"summarize() takes one benchmark at a time, got {sorted(benchmarks)}")
    groups = group_by_problem(records)
    n = len(groups[0])
    correct = [[1.0 if r.correct else 0.0 for r in g] for g in groups]  # [P][n]
    votes = [[r.vote for r in g] for g in groups]  # [P][n]
    counts = [(n, int(sum(c))) for c in correct]
    ks = metrics.pass_at_k_ks(n)
    out: dict[str, MetricValue] = {}

    def put(name: str, per_problem: np.ndarray) -> None:
        ci = metrics.bootstrap_ci(per_problem, num_bootstrap=num_bootstrap, seed=seed)
        out[name] = MetricValue(ci.mean, ci.low, ci.high)

    put(f"avg@{n}", metrics.per_problem_mean(correct))
    curve = {}
    for k in ks:
        pp = metrics.per_problem_pass_at_k(counts, k)
        curve[k] = float(pp.mean())
        put(f"pass@{k}", pp)
    exact_ks = []
    for k in maj_ks if maj_ks is not None else ks:
        if not 1 <= k <= n:
            raise ValueError(f"maj@{k} needs k <= n = {n} samples per problem")
        put(f"maj@{k}", metrics.per_problem_maj_at_k(votes, correct, k, seed=seed, num_subsets=num_subsets))
        if metrics.maj_is_exact(n, k, num_subsets):
            exact_ks.append(k)
    # verl-style bootstrap estimates (verl's own k grid: 2, 4, ..., n) on the raw `pred` string
    for k in [k for k in ks if k >= 2]:
        best = [metrics.verl_best_at_k(c, k, num_bootstrap) for c in correct]
        maj = [
            metrics.verl_maj_at_k([r.pred or "" for r in g], c, k, num_bootstrap)
            for g, c in zip(groups, correct)
        ]
        out[f"verl_best@{k}"] = MetricValue(float(np.mean(best)))
        out[f"verl_maj@{k}"] = MetricValue(float(np.mean(maj)))

    flat = [r for g in groups for r in g]
    kinds = Counter(r.kind for r in flat)
    return BenchmarkSummary(
        benchmark=groups[0][0].benchmark,
        num_problems=len(groups),
        n=n,
        metrics=out,
        pass_curve=curve,
        kind_counts=dict(sorted(kinds.items())),
        truncation_rate=metrics.rate([r.truncated for r in flat]),
        no_answer_rate=(kinds["no_answer"] + kinds["format_error"]) / len(flat),
        infra_failure_rate=sum(kinds[k] for k in INFRA_KINDS) / len(flat),
        mean_completion_tokens=float(np.mean([r.completion_tokens for r in flat])),
        mean_response_chars=float(np.mean([r.response_chars for r in flat])),
        maj_seed=seed,
        maj_subsets=num_subsets,
        maj_exact_ks=exact_ks,
        data_sources=sorted({r.data_source for r in flat}),
        breakdowns=_breakdowns(groups, correct),
        models=sorted({f"{r.model}@{r.model_revision}" if r.model_revision else r.model for r in flat}),
        config_hashes=sorted({r.config_hash for r in flat}),
        verifiers=sorted({r.verifier for r in flat}),
    )


def _breakdowns(
    groups: list[list[ScoredRecord]], correct: list[list[float]]
) -> dict[str, dict[str, dict[str, float]]]:
    """avg@n per value of each scalar per-problem extra field (level, subject, ...)."""
    per_field: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for g, c in zip(groups, correct):
        for key, value in g[0].extra.items():
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                per_field[key][str(value)].append(float(np.mean(c)))
    return {
        key: {v: {"problems": len(xs), "avg": float(np.mean(xs))} for v, xs in sorted(vals.items())}
        for key, vals in sorted(per_field.items())
        if 1 < len(vals) <= MAX_BREAKDOWN_GROUPS
    }
