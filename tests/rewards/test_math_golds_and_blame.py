"""Golds, anchors, multiple golds, extra_info and who caused a failure (issue 12 items 1, 3, 4, 5, 8, 9).

Expectations are derived by hand from the documented rules (docs/rewards.md), not from the code."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from g2rl_verl.rewards import compute_score
from g2rl_verl.rewards.math_gold import gold_defect, parse_gold, structural_defect

# --- item 1: the anchor is the LAST anchor, so Minerva's template gives the value -------------------------


@pytest.mark.parametrize(
    "response, gold",
    [
        ("Final Answer: The final answer is 7.78. I hope it is correct.", "7.78"),
        ("Final Answer: The final answer is $\\frac{14}{3}$. I hope it is correct.", "\\frac{14}{3}"),
        ("Final Answer: The final answer is 7.78.", "7.78"),
        ("**Final Answer**: 42", "42"),
        ("Answer: 3\nwait, no.\nThe final answer is: 5", "5"),
    ],
)
def test_anchor_takes_the_last_anchor_on_the_line(math_pool, fast, response, gold):
    out = compute_score("MATH-TTT", response, gold, **fast)
    assert (out["kind"], out["pred"]) == ("correct", gold.strip("$")), out


# --- items 3 and 4: gold forms, bad golds ---------------------------------------------------------------


@pytest.mark.parametrize(
    "gold, reason_start",
    [
        ("\\frac{2\\sqrt{35", "truncated: ends inside \\frac{"),  # one of the 99 truncated MATH train golds
        ("-\\frac{\\sqrt{3", "truncated: ends inside \\frac{"),
        ("x^", "truncated: ends with '^'"),
        ("1}", "unbalanced braces"),
        ("\\left( 1, 2", "unbalanced \\left/\\right"),
        ("$5", "unbalanced $"),
        ("", "empty gold"),
        ("4\\sqrt(2)", "malformed: \\sqrt"),
    ],
)
def test_structural_defects_name_the_problem(gold, reason_start):
    assert structural_defect(gold).startswith(reason_start)
    assert gold_defect(gold).startswith(reason_start)


@pytest.mark.parametrize(
    "gold",
    [
        "17\\%",
        "30^\\circ.",
        "7\\text{ hours}.",
        "1-\\frac{1}{\\mathrm{e}}",
        "\\dfrac{2469}{20,\\!000}",
        "5.",
        "k = \\frac{-33}{2}",
        "(0,1]",
        "\\{1,2\\}",
        "\\text{(C)}",
        "42",
        "-7",
        "x^2+1",
    ],
)
def test_usable_golds_parse_in_some_form(gold):
    assert gold_defect(gold) is None
    parsed, defect = parse_gold(gold)  # the parse the verifier compares against (main thread here)
    assert parsed is not None and defect is None


def test_gold_defect_from_a_thread_uses_the_pool():
    """math-verify's SIGALRM timeouts need a main thread; from any other thread the check still works."""
    out: list = []
    thread = threading.Thread(target=lambda: out.extend([gold_defect("17\\%"), gold_defect("a + b + c")]))
    thread.start()
    thread.join(60)
    assert out == [None, "math-verify cannot parse"]


@pytest.mark.parametrize(
    "response, gold, kind",
    [
        ("\\boxed{17}", "17\\%", "correct"),  # the gold parses only as $17\%$
        ("\\boxed{18}", "17\\%", "wrong"),
        ("\\boxed{1-\\frac{1}{e}}", "1-\\frac{1}{\\mathrm{e}}", "correct"),
        ("\\boxed{1+\\frac{1}{e}}", "1-\\frac{1}{\\mathrm{e}}", "wrong"),
        ("\\boxed{30}", "30^\\circ.", "correct"),
        ("\\boxed{\\frac{2469}{20000}}", "\\dfrac{2469}{20,\\!000}", "correct"),
    ],
)
def test_golds_that_only_parse_outside_a_box(math_pool, fast, response, gold, kind):
    out = compute_score("MATH-TTT", response, gold, **fast)
    assert (out["kind"], out["valid"]) == (kind, 1.0), out


@pytest.mark.parametrize(
    "response, gold",
    [
        ("\\boxed{\\frac{2\\sqrt{35}}{7}}", "\\frac{2\\sqrt{35"),  # truncated gold: even a right answer
        ("\\boxed{7}", "\\frac{2\\sqrt{35"),
        ("\\boxed{a+b+c}", "a + b + c"),  # math-verify cannot parse the gold in any form
        ("\\boxed{4}", "4\\sqrt(2)"),
    ],
)
def test_bad_golds_are_errors_never_a_valid_wrong(math_pool, fast, response, gold):
    out = compute_score("MATH-TTT", response, gold, **fast)
    assert (out["kind"], out["valid"]) == ("error", 0.0), out


# --- item 5: who caused the timeout ----------------------------------------------------------------------

QUICK = {
    "math_parse_timeout_s": 1,
    "math_verify_timeout_s": 1,
    "math_deadline_s": 3.5,
    "max_infra_failure_rate": 1.0,
}


@pytest.mark.parametrize(
    "response",
    [
        "\\boxed{10^{10^{10^{10}}}}",  # outlives math-verify's alarm: the parent's deadline fires
        "\\boxed{9^{9^{9^{9}}}}",  # math-verify's own alarm fires
    ],
)
def test_a_timeout_the_candidate_caused_is_scored_wrong_and_valid(math_pool, response):
    out = compute_score("MATH-TTT", response, "\\frac{1}{2}", math_pool_size=2, **QUICK)
    assert (out["kind"], out["valid"], out["score"], out["acc"]) == ("timeout", 1.0, -1.0, 0.0), out
    assert out["latency_s"] < QUICK["math_deadline_s"] + 0.5


def test_a_hung_worker_before_the_gold_is_checked_is_infra():
    """SIGSTOP a fresh dedicated pool's worker: nothing the candidate did, so valid = 0."""
    import os
    import signal

    from g2rl_verl.rewards.math_pool import get_math_pool

    pool = get_math_pool(3)  # a size of its own: the shared pool is untouched
    pool.wait_ready()
    pids = pool.worker_pids()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        out = compute_score("MATH-TTT", "\\boxed{0.5}", "\\frac{1}{2}", math_pool_size=3, **QUICK)
        assert (out["kind"], out["valid"]) == ("timeout", 0.0), out
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# --- item 8: extra_info that is not a dict --------------------------------------------------------------


def test_extra_info_as_a_zero_d_array_is_accepted(math_pool, fast):
    wrapped = np.array({"index": 3, "split": "train"}, dtype=object)  # what a parquet round trip gives
    assert wrapped.ndim == 0
    out = compute_score("MATH-TTT", "\\boxed{5}", "5", wrapped, **fast)
    assert out["kind"] == "correct"
    assert (
        compute_score("MATH-TTT", "\\boxed{5}", "5", np.array(None, dtype=object), **fast)["kind"]
        == "correct"
    )


@pytest.mark.parametrize("extra_info", [[1, 2], "index=3", 7, np.array([{"a": 1}], dtype=object)])
def test_other_extra_info_is_an_error_with_a_message(fast, extra_info):
    out = compute_score("MATH-TTT", "\\boxed{5}", "5", extra_info, **fast)
    assert (out["kind"], out["valid"]) == ("error", 0.0)


# --- item 9: several accepted golds --------------------------------------------------------------------


@pytest.mark.parametrize(
    "gold",
    [["2", "x=2"], ("x=2", "2"), np.array(["2", "x=2"], dtype=object), ["\\frac{1", "2"]],
)
def test_any_accepted_gold_matches(math_pool, fast, gold):
    assert compute_score("MATH-TTT", "\\boxed{2}", gold, **fast)["kind"] == "correct"
    assert compute_score("MATH-TTT", "\\boxed{x=2}", gold, **fast)["kind"] == "correct"
    assert compute_score("MATH-TTT", "\\boxed{3}", gold, **fast)["kind"] == "wrong"


def test_a_list_of_only_bad_golds_is_an_error(fast):
    out = compute_score("MATH-TTT", "\\boxed{2}", ["\\frac{1", "x^"], **fast)
    assert (out["kind"], out["valid"]) == ("error", 0.0)
    assert compute_score("MATH-TTT", "\\boxed{2}", [], **fast)["kind"] == "error"
