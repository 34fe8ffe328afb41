"""The >= 200-case math table (math_cases.py) through the public sync entry point."""

from __future__ import annotations

import asyncio
import importlib.util
import pathlib
import sys

import pytest

from g2rl_verl.rewards import VERL_KEYS, compute_score_async

_spec = importlib.util.spec_from_file_location(
    "g2rl_reward_math_cases", pathlib.Path(__file__).with_name("math_cases.py")
)
math_cases = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = math_cases  # dataclasses need the module registered
_spec.loader.exec_module(math_cases)
CASES = math_cases.CASES

# Hand-written from the profile table of docs/rewards.md (not computed by the code under test).
SCORE = {
    "g2rl": {
        "correct": 1.0,
        "wrong": -1.0,
        "no_answer": -1.0,
        "format_error": -1.0,
        "timeout": -1.0,
        "error": -1.0,
    },
    "binary": {
        "correct": 1.0,
        "wrong": 0.0,
        "no_answer": 0.0,
        "format_error": 0.0,
        "timeout": 0.0,
        "error": 0.0,
    },
    "klear": {"correct": 1.0, "wrong": -1.0, "no_answer": -1.0, "timeout": -1.0, "error": -1.0},
}
KLEAR_FORMAT = {"missing_close_think": -0.5, "missing_open_think": -2.0}


def test_table_is_large_enough():
    assert len(CASES) >= 200


@pytest.fixture(scope="module")
def table_results(math_pool, fast) -> list[dict]:
    """Score the whole table concurrently through the async entry point (what verl calls), so both pool
    workers are busy; each parametrized test then checks its row."""

    async def score_all():
        return await asyncio.gather(
            *(
                compute_score_async(c.data_source, c.response, c.gold, None, **{**fast, **c.kwargs})
                for c in CASES
            )
        )

    return asyncio.run(score_all())


@pytest.mark.parametrize(
    "index", range(len(CASES)), ids=[f"{i:03d}-{c.note[:40]}" for i, c in enumerate(CASES)]
)
def test_math_case(index, table_results, fast):
    case, out = CASES[index], table_results[index]
    assert tuple(out) == VERL_KEYS
    assert out["kind"] == case.kind, f"{case.note}: got {out}"
    profile = case.kwargs.get("profile") or (
        "klear" if case.data_source.startswith("math_longcot") else "g2rl"
    )
    if profile == "klear" and case.kind == "format_error":
        # Klear's format penalties depend on which tag is missing (-0.5 / -2 / -1).
        response = case.response
        detail = "missing_close_think" if "</think>" not in response else "missing_open_think"
        assert out["score"] == KLEAR_FORMAT[detail]
    else:
        assert out["score"] == SCORE[profile][case.kind]
    assert out["acc"] == (1.0 if case.kind == "correct" else 0.0)
    # Every table gold is usable, so a timeout is the candidate's (valid); only a bad gold is invalid.
    assert out["valid"] == (0.0 if case.kind == "error" else 1.0)
