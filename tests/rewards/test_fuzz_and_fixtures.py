"""Property-based fuzzing of the public entry point, Klear MathSub-shaped rows and multiple choice."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from g2rl_verl.rewards import VERL_KEYS, compute_score

QUICK = {
    "math_parse_timeout_s": 1,
    "math_verify_timeout_s": 1,
    "math_deadline_s": 3.5,
    "max_infra_failure_rate": 1.0,
}

FRAGMENTS = [
    "\\boxed{",
    "\\fbox {",
    "}",
    "{",
    "\\}",
    "<think>",
    "</think>",
    "Answer: ",
    "The final answer is ",
    "$",
    "\\frac",
    "\\sqrt",
    "^",
    "_",
    "(",
    ")",
    "[",
    "]",
    ",",
    "x",
    "=",
    "\\pi",
    "\\infty",
    "\\left(",
    "\\right)",
    "\\text{",
    "\\begin{pmatrix}",
    "\\end{pmatrix}",
    "&",
    "\\\\",
    "5^{5^{5^{5}}}",
    "\n",
    " ",
    "1",
    "2",
    "3.5",
    "-",
    "\\%",
]
text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=25).map("".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    response=text,
    gold=st.one_of(text, st.integers(-1000, 1000), st.floats(allow_nan=True, allow_infinity=True)),
    data_source=st.sampled_from(
        ["MATH-TTT", "math_longcot_math_verify", "aime25", "gpqa_diamond", "mmlu_pro"]
    ),
    extraction=st.sampled_from(["strict", "mathverify"]),
)
def test_compute_score_never_raises_and_respects_the_deadline(
    math_pool, response, gold, data_source, extraction
):
    out = compute_score(data_source, response, gold, None, math_pool_size=2, extraction=extraction, **QUICK)
    assert tuple(out) == VERL_KEYS
    assert isinstance(out["pred"], str) and isinstance(out["kind"], str)
    assert out["latency_s"] < QUICK["math_deadline_s"] + 3.0  # sequential calls: no queueing; slack for load
    if out["kind"] == "error":
        assert out["valid"] == 0.0  # errors are infrastructure failures (bad gold, crash)
    elif out["kind"] != "timeout":
        assert out["valid"] == 1.0  # verdicts are always valid; a timeout depends on who caused it


# Rows shaped exactly like Kwai-Klear/KlearReasoner-MathSub-30K (docs/data-and-eval.md): a raw problem as the
# single user turn, data_source math_longcot_math_verify, a string gold, and the pandas index artefact.
MATHSUB_ROWS = [
    {
        "data_source": "math_longcot_math_verify",
        "prompt": [
            {
                "content": "What is the units digit of $13^{2003}$? (A) 1 (B) 3 (C) 7 (D) 9 (E) 4",
                "role": "user",
            }
        ],
        "ability": "math",
        "reward_model": {"ground_truth": "4", "style": "rule"},
        "__index_level_0__": 0,
    },
    {
        "data_source": "math_longcot_math_verify",
        "prompt": [{"content": "Simplify $\\frac{6}{8}$.", "role": "user"}],
        "ability": "math",
        "reward_model": {"ground_truth": "\\frac{3}{4}", "style": "rule"},
        "__index_level_0__": 1,
    },
]


def test_klear_mathsub_rows_score_with_the_klear_profile(math_pool, fast):
    (r0, r1) = MATHSUB_ROWS

    def score(row, response):
        return compute_score(
            row["data_source"], response, row["reward_model"]["ground_truth"], {"index": 0}, **fast
        )

    assert (
        score(r0, "<think>\n13^2003 ends in 7 \\boxed{7}?\n</think>\nThe answer is \\boxed{4}.")["score"]
        == 1.0
    )
    assert score(r0, "<think>\nhm\n</think>\nThe answer is \\boxed{7}.")["score"] == -1.0
    assert score(r0, "<think>\nstill going \\boxed{4}")["score"] == -0.5  # truncated: missing </think>
    assert score(r0, "The answer is \\boxed{4}.</think>")["score"] == -2.0  # missing <think>
    assert score(r1, "<think>x</think>\\boxed{0.75}")["score"] == 1.0


def test_multiple_choice():
    cases = [
        ("gpqa_diamond", "<think>maybe \\boxed{A}</think>So \\boxed{C}", "C", "correct", 1.0),
        ("gpqa_diamond", "Answer: B", "C", "wrong", -1.0),
        ("gpqa_diamond", "I cannot decide", "C", "no_answer", -1.0),
        ("mmlu_pro", "The answer is (J).", "J", "correct", 1.0),
        ("gpqa_diamond", "\\boxed{E}", "C", "no_answer", -1.0),  # E is not a GPQA option
    ]
    for data_source, response, gold, kind, score in cases:
        out = compute_score(data_source, response, gold)
        assert (out["kind"], out["score"]) == (kind, score), (data_source, response)
    assert compute_score("mmlu_pro", "The answer is (J).", "J")["pred"] == "J"
    assert compute_score("gpqa_diamond", "Answer: A", "Z", max_infra_failure_rate=1.0)["kind"] == "error"
