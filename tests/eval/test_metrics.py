"""Metric estimators against hand-derived values and independent reference formulas (docs/data-and-eval.md)."""

import itertools
import math
from functools import partial

import numpy as np
import pytest

from g2rl_verl.eval import metrics


def humaneval_reference(n: int, c: int, k: int) -> float:
    """The HumanEval (Chen et al. 2021) reference estimator, written out independently."""
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def binomial_reference(n: int, c: int, k: int) -> float:
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


# ------------------------------------------------------------------------------------------ pass@k


def test_pass_at_k_golden_spec_values():
    # spec golden test: n=8, c=3. pass@1 = c/n = 3/8.
    assert metrics.pass_at_k(8, 3, 1) == pytest.approx(0.375, abs=1e-12)
    # pass@5 = 1 - C(5,5)/C(8,5) = 1 - 1/56
    assert metrics.pass_at_k(8, 3, 5) == pytest.approx(1 - 1 / 56, abs=1e-12)


def test_pass_at_k_hand_cases():
    # n=4, c=1, k=2: 1 - C(3,2)/C(4,2) = 1 - 3/6 = 0.5
    assert metrics.pass_at_k(4, 1, 2) == pytest.approx(0.5)
    # n - c < k: every k-subset holds a correct sample
    assert metrics.pass_at_k(4, 1, 4) == 1.0
    assert metrics.pass_at_k(8, 3, 6) == 1.0
    # no correct sample
    assert metrics.pass_at_k(16, 0, 16) == 0.0
    # n = k is the empirical "any correct"
    assert metrics.pass_at_k(5, 2, 5) == 1.0


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16, 32, 64])
def test_pass_at_k_matches_reference_formulas(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            got = metrics.pass_at_k(n, c, k)
            assert got == pytest.approx(humaneval_reference(n, c, k), abs=1e-12)
            assert got == pytest.approx(binomial_reference(n, c, k), abs=1e-9)


def test_pass_at_k_is_monotone_in_k_and_c():
    n = 32
    for c in range(n + 1):
        vals = [metrics.pass_at_k(n, c, k) for k in range(1, n + 1)]
        assert all(a <= b + 1e-12 for a, b in itertools.pairwise(vals))
    for k in (1, 4, 16):
        vals = [metrics.pass_at_k(n, c, k) for c in range(n + 1)]
        assert all(a <= b + 1e-12 for a, b in itertools.pairwise(vals))


@pytest.mark.parametrize("args", [(0, 0, 1), (4, 5, 1), (4, -1, 1), (4, 2, 0), (4, 2, 5)])
def test_pass_at_k_rejects_invalid(args):
    with pytest.raises(ValueError):
        metrics.pass_at_k(*args)


def test_avg_and_mean_pass_at_k():
    # problem A: 2/4 correct, problem B: 0/4 -> avg@4 = (0.5 + 0) / 2
    assert metrics.avg_at_n([[1, 0, 1, 0], [0, 0, 0, 0]]) == pytest.approx(0.25)
    # pass@1 equals avg@n
    assert metrics.mean_pass_at_k([(4, 2), (4, 0)], 1) == pytest.approx(0.25)
    # pass@2: A = 1 - C(2,2)/C(4,2) = 5/6, B = 0 -> 5/12
    assert metrics.mean_pass_at_k([(4, 2), (4, 0)], 2) == pytest.approx(5 / 12)


def test_pass_at_k_ks_grid():
    assert metrics.pass_at_k_ks(1) == [1]
    assert metrics.pass_at_k_ks(8) == [1, 2, 4, 8]
    assert metrics.pass_at_k_ks(12) == [1, 2, 4, 8, 12]


# ------------------------------------------------------------------------------------------ maj@k


def exact_maj(answers, correct, k):
    """Independent reference: enumerate every k-subset, majority with exact tie expectation."""
    scores = []
    for subset in itertools.combinations(range(len(answers)), k):
        votes = {}
        first_correct = {}
        for i in subset:
            a = answers[i]
            if a is None:
                continue
            votes[a] = votes.get(a, 0) + 1
        if not votes:
            scores.append(0.0)
            continue
        for i in range(len(answers)):  # representative = first occurrence in the whole sample list
            if answers[i] is not None and answers[i] not in first_correct:
                first_correct[answers[i]] = correct[i]
        top = max(votes.values())
        tied = [a for a, v in votes.items() if v == top]
        scores.append(sum(first_correct[a] for a in tied) / len(tied))
    return float(np.mean(scores))


def test_maj_n_equals_k_hand_cases():
    rng = np.random.default_rng(0)
    # clear majority of a correct answer
    assert metrics.maj_at_k_problem(["7", "7", "5"], [1, 1, 0], 3, rng) == 1.0
    # two-way tie, one correct: expectation 1/2
    assert metrics.maj_at_k_problem(["7", "5"], [1, 0], 2, rng) == 0.5
    # three-way tie, one correct: 1/3
    assert metrics.maj_at_k_problem(["a", "b", "c"], [0, 1, 0], 3, rng) == pytest.approx(1 / 3)
    # nobody answers: 0
    assert metrics.maj_at_k_problem([None, None], [0, 0], 2, rng) == 0.0
    # samples without an answer do not vote: the lone "a" wins although two samples have no answer
    assert metrics.maj_at_k_problem([None, None, "a"], [0, 0, 1], 3, rng) == 1.0
    # a wrong majority beats a correct minority
    assert metrics.maj_at_k_problem(["1", "2", "2"], [1, 0, 0], 3, rng) == 0.0


def test_maj_small_n_enumerates_every_subset_exactly():
    # n=3, answers a a b (a correct), k=2: subsets {0,1} -> 1, {0,2} -> tie 0.5, {1,2} -> 0.5; mean 2/3.
    # C(3,2) = 3 <= num_subsets, so every subset is enumerated: exact, no sampling noise.
    answers, correct = ["a", "a", "b"], [1, 1, 0]
    assert exact_maj(answers, correct, 2) == pytest.approx(2 / 3)
    assert metrics.maj_at_k_problem(answers, correct, 2, np.random.default_rng(1)) == pytest.approx(
        2 / 3, abs=1e-12
    )
    # answers a b b c, only a correct, k=3: {a,b,b} -> b wins -> 0, {a,b,c} x2 -> 3-way tie -> 1/3 each,
    # {b,b,c} -> 0: mean (2/3)/4 = 1/6
    answers, correct = ["a", "b", "b", "c"], [1, 0, 0, 0]
    assert exact_maj(answers, correct, 3) == pytest.approx(1 / 6)
    assert metrics.maj_at_k_problem(answers, correct, 3, np.random.default_rng(0)) == pytest.approx(
        1 / 6, abs=1e-12
    )
    # maj@1 = share of samples that answered correctly (unanswered ones score 0)
    answers, correct = ["7", None, "5", "7"], [1, 0, 0, 1]
    assert metrics.maj_at_k_problem(answers, correct, 1, np.random.default_rng(0)) == pytest.approx(0.5)


def test_maj_random_subsets_converge_to_enumeration():
    # n=14, k=5: C(14,5) = 2002 > 1500 subsets -> the random path, compared with full enumeration
    # (which is without replacement by construction).
    gen = np.random.default_rng(5)
    for _ in range(3):
        answers = [None if gen.random() < 0.2 else str(gen.integers(0, 3)) for _ in range(14)]
        correct = [1.0 if a == "0" else 0.0 for a in answers]
        est = metrics.maj_at_k_problem(answers, correct, 5, np.random.default_rng(2), num_subsets=1500)
        # per-subset scores lie in [0, 1] (std <= 0.5) -> SE <= 0.013
        assert est == pytest.approx(exact_maj(answers, correct, 5), abs=0.04)


def test_maj_seeded_and_order_independent_of_other_problems():
    answers = [["a", "b", "a", "c", None, "a"], ["x", "y", "y", "x", "x", "z"]]
    correct = [[1, 0, 1, 0, 0, 1], [0, 1, 1, 0, 0, 0]]
    a = metrics.per_problem_maj_at_k(answers, correct, 3, seed=7)
    b = metrics.per_problem_maj_at_k(answers, correct, 3, seed=7)
    np.testing.assert_array_equal(a, b)
    # problem 0's value only depends on its own samples and position
    only_first = metrics.per_problem_maj_at_k(answers[:1], correct[:1], 3, seed=7)
    assert only_first[0] == a[0]


# ------------------------------------------------------------------------------------------ verl bootstrap


def test_verl_bootstrap_matches_verl_implementation():
    from verl.trainer.ppo.metric_utils import bootstrap_metric, calc_maj_val

    gen = np.random.default_rng(3)
    for n, k in [(4, 2), (8, 4), (8, 8), (16, 16)]:
        preds = [str(gen.integers(0, 3)) for _ in range(n)]
        vals = [float(p == "1") for p in preds]
        [(best_mean, _)] = bootstrap_metric(vals, k, [np.max], seed=42)
        assert metrics.verl_best_at_k(vals, k) == pytest.approx(best_mean, abs=1e-12)
        data = [{"pred": p, "val": v} for p, v in zip(preds, vals)]
        [(maj_mean, _)] = bootstrap_metric(
            data, k, [partial(calc_maj_val, vote_key="pred", val_key="val")], seed=42
        )
        assert metrics.verl_maj_at_k(preds, vals, k) == pytest.approx(maj_mean, abs=1e-12)


def test_first_occurrence_tie_break():
    # a and b tie 2-2; a appears first -> a's first value
    assert metrics.first_occurrence_majority(["a", "b", "b", "a"], [1.0, 0.0, 0.0, 1.0]) == 1.0
    assert metrics.first_occurrence_majority(["b", "a", "b", "a"], [0.0, 1.0, 0.0, 1.0]) == 0.0


def test_verl_best_under_reports_pass_at_k():
    # 1 correct of 4: unbiased pass@4 = 1, bootstrap best@4 = 1 - (3/4)^4 = 0.684 in expectation
    vals = [1.0, 0.0, 0.0, 0.0]
    assert metrics.pass_at_k(4, 1, 4) == 1.0
    best = metrics.verl_best_at_k(vals, 4, num_bootstrap=20000)
    assert best == pytest.approx(1 - 0.75**4, abs=0.01)


# ------------------------------------------------------------------------------------------ CI and rates


def test_bootstrap_ci_properties():
    const = metrics.bootstrap_ci([0.5] * 30)
    assert (const.mean, const.low, const.high) == (0.5, 0.5, 0.5)
    x = np.random.default_rng(0).random(30)
    ci = metrics.bootstrap_ci(x, seed=1)
    assert ci.low < ci.mean < ci.high
    assert ci == metrics.bootstrap_ci(x, seed=1)  # seeded
    # the CI of the mean of 30 uniforms has width about 2 * 1.96 * 0.289 / sqrt(30) = 0.21
    assert 0.12 < ci.high - ci.low < 0.30
    wide = metrics.bootstrap_ci(np.tile(x, 10), seed=1)  # 10x more problems -> ~sqrt(10) narrower
    assert (wide.high - wide.low) < 0.5 * (ci.high - ci.low)


def test_rate():
    assert metrics.rate([True, False, False, False]) == 0.25
    with pytest.raises(ValueError):
        metrics.rate([])
