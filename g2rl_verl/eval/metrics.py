"""Evaluation metrics over n sampled responses per problem (docs/data-and-eval.md, "Evaluation metrics").

Pure functions on plain Python / numpy values; no verl, no I/O.

Conventions:
- a problem contributes n samples; ``correct[i]`` is the verifier's 0/1 verdict for sample i;
- ``answers[i]`` is the canonical answer string used for voting, or ``None`` when nothing was extracted
  (such samples do not vote);
- every "over problems" metric is the unweighted mean of a per-problem value.

Two families are reported side by side:
- unbiased estimators (primary): avg@n, pass@k (Chen et al. 2021), maj@k over random k-subsets drawn
  WITHOUT replacement with ties scored by their exact expectation;
- verl-style bootstrap estimators (``verl/trainer/ppo/metric_utils.py``): best@k / maj@k from subsets
  drawn WITH replacement and a first-occurrence tie break. Resampling with replacement repeats samples,
  so best@k under-reports pass@k; they are reported because published numbers may come from them.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_NUM_SUBSETS = 1000
DEFAULT_NUM_BOOTSTRAP = 1000


# ---------------------------------------------------------------------------------------------------
# pass@k
# ---------------------------------------------------------------------------------------------------


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem: 1 - C(n-c, k) / C(n, k).

    Evaluated in the numerically stable product form 1 - prod_{i=n-c+1}^{n} (1 - k/i), which never
    forms a binomial coefficient (C(64, 32) already exceeds 2**60).
    """
    if not (
        isinstance(n, (int, np.integer))
        and isinstance(c, (int, np.integer))
        and isinstance(k, (int, np.integer))
    ):
        raise TypeError(f"pass_at_k expects integers, got n={n!r}, c={c!r}, k={k!r}")
    if n < 1:
        raise ValueError(f"pass_at_k: n must be >= 1, got n={n}")
    if not 0 <= c <= n:
        raise ValueError(f"pass_at_k: need 0 <= c <= n, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"pass_at_k: need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        # every k-subset contains a correct sample
        return 1.0
    i = np.arange(n - c + 1, n + 1, dtype=np.float64)  # [c]
    return float(1.0 - np.prod(1.0 - k / i))


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """Mean over problems of ``pass_at_k(n, c, k)``; ``counts`` holds one (n, c) per problem."""
    return float(np.mean(per_problem_pass_at_k(counts, k)))


def per_problem_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> np.ndarray:
    if len(counts) == 0:
        raise ValueError("pass@k over zero problems is undefined")
    return np.array([pass_at_k(int(n), int(c), k) for n, c in counts], dtype=np.float64)  # [P]


def avg_at_n(correct: Sequence[Sequence[float]]) -> float:
    """avg@n (mean@n, G2RL's "pass@1"): the mean over problems of the per-problem mean correctness.

    Accepts fractional scores (e.g. soft code pass rates) as well as 0/1 verdicts.
    """
    return float(np.mean(per_problem_mean(correct)))


def per_problem_mean(values: Sequence[Sequence[float]]) -> np.ndarray:
    if len(values) == 0:
        raise ValueError("avg@n over zero problems is undefined")
    out = np.empty(len(values), dtype=np.float64)  # [P]
    for p, v in enumerate(values):
        if len(v) == 0:
            raise ValueError(f"problem #{p} has no samples")
        out[p] = float(np.mean(np.asarray(v, dtype=np.float64)))
    return out


def pass_at_k_ks(n: int) -> list[int]:
    """The k grid of the pass@k curve: 1, 2, 4, ... below n, then n itself."""
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    ks.append(n)
    return ks


# ---------------------------------------------------------------------------------------------------
# maj@k (exact-expectation ties, subsets without replacement)
# ---------------------------------------------------------------------------------------------------


def _encode_answers(answers: Sequence[str | None], correct: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Map answers to integer ids (-1 = no answer) and give each id the correctness of its group.

    A group's correctness is that of its first member (its representative, in sample order): samples
    with the same canonical string receive the same verdict from a deterministic verifier, so which
    member represents the group only matters if the verifier is inconsistent.
    """
    if len(answers) != len(correct):
        raise ValueError(f"answers ({len(answers)}) and correct ({len(correct)}) differ in length")
    ids = np.full(len(answers), -1, dtype=np.int64)  # [n]
    group_correct: list[float] = []
    index: dict[str, int] = {}
    for i, a in enumerate(answers):
        if a is None:
            continue
        if a not in index:
            index[a] = len(group_correct)
            group_correct.append(float(correct[i]))
        ids[i] = index[a]
    return ids, np.asarray(group_correct, dtype=np.float64)  # [n], [A]


def _majority_scores(subset_ids: np.ndarray, group_correct: np.ndarray) -> np.ndarray:
    """Exact-expectation majority score of each row of ``subset_ids`` [S, k] -> [S].

    Among the answers with the most votes, a uniform random pick is correct with probability
    (#correct tied answers) / (#tied answers); we return that probability instead of sampling.
    A row in which no sample has an answer scores 0.
    """
    s, _ = subset_ids.shape
    a = len(group_correct)
    if a == 0:
        return np.zeros(s, dtype=np.float64)
    voting = subset_ids >= 0  # [S, k]
    rows = np.broadcast_to(np.arange(s)[:, None], subset_ids.shape)  # [S, k]
    flat = rows[voting] * a + subset_ids[voting]  # [V] row-major (row, answer) cell of every vote
    counts = np.bincount(flat, minlength=s * a).reshape(s, a)  # [S, A]
    top = counts.max(axis=1, keepdims=True)  # [S, 1]
    tied = (counts == top) & (top > 0)  # [S, A]
    n_tied = tied.sum(axis=1)  # [S]
    n_tied_correct = (tied * group_correct[None, :]).sum(axis=1)  # [S]
    return np.where(n_tied > 0, n_tied_correct / np.maximum(n_tied, 1), 0.0)  # [S]


def maj_at_k_problem(
    answers: Sequence[str | None],
    correct: Sequence[float],
    k: int,
    rng: np.random.Generator,
    num_subsets: int = DEFAULT_NUM_SUBSETS,
) -> float:
    """maj@k of one problem.

    n == k: the exact-expectation majority over all samples (no randomness).
    n > k: the mean over ``num_subsets`` uniformly random k-subsets drawn WITHOUT replacement from ``rng``
    (docs/data-and-eval.md). Decision: when there are at most ``num_subsets`` distinct k-subsets, every subset is
    enumerated instead; that is the exact value the random estimate converges to, with no sampling noise.
    """
    n = len(answers)
    if not 1 <= k <= n:
        raise ValueError(f"maj@k: need 1 <= k <= n, got k={k}, n={n}")
    ids, group_correct = _encode_answers(answers, correct)
    if maj_is_exact(n, k, num_subsets):
        subsets = np.array(list(itertools.combinations(range(n), k)), dtype=np.int64)  # [C(n,k), k]
        return float(_majority_scores(ids[subsets], group_correct).mean())
    # a random permutation per row; its first k columns are a uniform k-subset without replacement
    perms = np.argsort(rng.random((num_subsets, n)), axis=1)[:, :k]  # [S, k]
    return float(_majority_scores(ids[perms], group_correct).mean())


def maj_is_exact(n: int, k: int, num_subsets: int = DEFAULT_NUM_SUBSETS) -> bool:
    """Whether maj@k enumerates every k-subset of n samples (an exact value, no sampling noise)."""
    return math.comb(n, k) <= num_subsets


def per_problem_maj_at_k(
    answers: Sequence[Sequence[str | None]],
    correct: Sequence[Sequence[float]],
    k: int,
    seed: int,
    num_subsets: int = DEFAULT_NUM_SUBSETS,
) -> np.ndarray:
    """maj@k per problem [P]. Problem p draws its subsets from ``default_rng([seed, p])``, so a problem's
    value does not depend on which other problems are evaluated with it (only on its position p)."""
    if len(answers) != len(correct):
        raise ValueError("answers and correct must list the same problems")
    return np.array(
        [
            maj_at_k_problem(a, c, k, np.random.default_rng([seed, p]), num_subsets)
            for p, (a, c) in enumerate(zip(answers, correct))
        ],
        dtype=np.float64,
    )


# ---------------------------------------------------------------------------------------------------
# verl-style bootstrap (with replacement, first-occurrence tie break)
# ---------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def verl_bootstrap_indices(n: int, k: int, num_bootstrap: int, seed: int) -> np.ndarray:
    """[B, k] sample indices drawn WITH replacement, as verl's ``bootstrap_metric`` draws them.

    verl reseeds with the same ``seed`` for every (problem, k), so the draw depends only on (n, k): it is
    cached and returned read-only.
    """
    idx = np.random.RandomState(seed).choice(n, size=(num_bootstrap, k), replace=True)  # [B, k]
    idx.flags.writeable = False
    return idx


def first_occurrence_majority(votes: Sequence[str], values: Sequence[float]) -> float:
    """verl's ``calc_maj_val`` rule: the most frequent vote wins; ties go to the vote seen first; the
    result is the value of that vote's first occurrence."""
    counts: dict[str, int] = {}
    first_value: dict[str, float] = {}
    for v, x in zip(votes, values):
        if v not in counts:
            counts[v] = 0
            first_value[v] = float(x)
        counts[v] += 1
    best = max(counts, key=counts.__getitem__)  # max() keeps the first maximal key in insertion order
    return first_value[best]


def verl_best_at_k(
    values: Sequence[float], k: int, num_bootstrap: int = DEFAULT_NUM_BOOTSTRAP, seed: int = 42
) -> float:
    """verl's ``best@k/mean`` of one problem: mean over bootstrap draws of the max value."""
    vals = np.asarray(values, dtype=np.float64)  # [n]
    idx = verl_bootstrap_indices(len(vals), k, num_bootstrap, seed)  # [B, k]
    return float(vals[idx].max(axis=1).mean())


def verl_maj_at_k(
    votes: Sequence[str],
    values: Sequence[float],
    k: int,
    num_bootstrap: int = DEFAULT_NUM_BOOTSTRAP,
    seed: int = 42,
) -> float:
    """verl's ``maj@k/mean`` of one problem: mean over bootstrap draws of ``first_occurrence_majority``.

    Vectorised; equal to applying `first_occurrence_majority` to every drawn row.
    """
    index: dict[str, int] = {}
    ids = np.array([index.setdefault(v, len(index)) for v in votes], dtype=np.int64)  # [n]
    vals = np.asarray(values, dtype=np.float64)  # [n]
    idx = verl_bootstrap_indices(len(votes), k, num_bootstrap, seed)  # [B, k]
    drawn = ids[idx]  # [B, k]
    b, a = drawn.shape[0], len(index)
    rows = np.arange(b)  # [B]
    counts = np.bincount((rows[:, None] * a + drawn).ravel(), minlength=b * a).reshape(b, a)  # [B, A]
    first_pos = np.full((b, a), k, dtype=np.int64)  # [B, A] position of each vote's first draw
    for j in range(k - 1, -1, -1):  # later writes win, so walking backwards leaves the first position
        first_pos[rows, drawn[:, j]] = j
    tied = counts == counts.max(axis=1, keepdims=True)  # [B, A]
    winner = np.where(tied, first_pos, k + 1).argmin(axis=1)  # [B] earliest-seen among the tied
    winner_pos = first_pos[rows, winner]  # [B]
    return float(vals[idx[rows, winner_pos]].mean())


# ---------------------------------------------------------------------------------------------------
# uncertainty and rates
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfidenceInterval:
    mean: float
    low: float
    high: float


def bootstrap_ci(
    per_problem: Sequence[float] | np.ndarray,
    num_bootstrap: int = DEFAULT_NUM_BOOTSTRAP,
    seed: int = 0,
    level: float = 0.95,
) -> ConfidenceInterval:
    """Percentile bootstrap CI of the mean over problems (problems resampled with replacement)."""
    x = np.asarray(per_problem, dtype=np.float64)  # [P]
    if x.size == 0:
        raise ValueError("bootstrap CI over zero problems is undefined")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    idx = np.random.default_rng(seed).integers(0, x.size, size=(num_bootstrap, x.size))  # [B, P]
    means = x[idx].mean(axis=1)  # [B]
    tail = (1.0 - level) / 2.0
    return ConfidenceInterval(
        mean=float(x.mean()), low=float(np.quantile(means, tail)), high=float(np.quantile(means, 1.0 - tail))
    )


def rate(flags: Sequence[bool]) -> float:
    """Share of true flags (e.g. the truncation rate: samples that hit max tokens)."""
    if len(flags) == 0:
        raise ValueError("rate over zero samples is undefined")
    return float(np.mean(np.asarray(flags, dtype=np.float64)))
