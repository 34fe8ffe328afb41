"""The benchmark's labelled workload: deterministic, apportioned by the class shares of sandbox/bench_workload.py, and its labels are true."""

from __future__ import annotations

import json

import pytest

from sandbox import IsolationUnavailable, Limits, Verdict, evaluate_batch
from sandbox.bench_workload import CLASS_SHARES, generate


def test_generate_is_deterministic_and_apportions_the_class_shares():
    a, b = generate(64, 8, 2, seed=3), generate(64, 8, 2, seed=3)
    assert [(c.label, c.program, c.tests) for c in a] == [(c.label, c.program, c.tests) for c in b]
    counts = {label: sum(c.label == label for c in a) for label in CLASS_SHARES}
    assert sum(counts.values()) == 128
    # 45% of 128 = 57.6 -> 58 (largest remainder); 15% -> 19.2 -> 19; 2.5% -> 3.2 -> 3
    assert counts["correct"] == 58 and counts["wrong_odd"] == 19 and counts["tle_busy"] == 3


def test_wrong_odd_ground_truth_is_even_indices_and_odd_tests_have_odd_length():
    cands = generate(8, 6, 4, seed=0)
    for c in cands:
        for t, text in enumerate(c.tests["inputs"]):
            n = len(json.loads(text)) if c.style == "call" else int(text.split()[0])
            assert n % 2 == t % 2
        if c.label == "wrong_odd":
            assert c.expected_pass == [True, False, True, False, True, False]
            assert c.expected_pass_rate == 0.5


def test_labels_hold_when_the_programs_really_run():
    """Correct / wrong_odd / float_ws / runtime_error candidates get exactly their labelled verdicts."""
    cands = [c for c in generate(12, 4, 4, seed=1)
             if c.label in ("correct", "wrong_odd", "float_ws", "runtime_error")]
    picked = {}
    for c in cands:  # one stdin and one call-style candidate per label
        picked.setdefault((c.label, c.style), c)
    chosen = list(picked.values())
    try:
        results = evaluate_batch([(c.program, c.tests) for c in chosen], limits=Limits(cpu_s=2),
                                 compare="lines_float")
    except IsolationUnavailable as e:
        pytest.skip(f"local backend unavailable: {e}")
    for c, r in zip(chosen, results):
        assert [t.verdict is Verdict.AC for t in r.tests] == c.expected_pass, (c.label, c.style, r.tests)
