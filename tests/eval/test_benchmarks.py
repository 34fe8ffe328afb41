"""Benchmark loaders on the shared benchmark files (data-eval.md §6) and on the RL schema."""

from pathlib import Path

import pandas as pd
import pytest

from g2rl_verl.eval.benchmarks import (
    SIMPLERL_SYSTEM_PROMPT,
    gold_to_string,
    load_problems,
    with_system_prompt,
)

_SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"  # shared/ sits beside the repo
SHARED = _SHARED if _SHARED.exists() else Path("/work/shared/data")
needs_shared = pytest.mark.skipif(
    not SHARED.exists(), reason="shared benchmark folder /work/shared/data absent"
)


@needs_shared
def test_shared_benchmark_files_load_with_spec_counts_and_golds():
    aime24 = load_problems("aime24", SHARED / "aime24.jsonl")
    assert len(aime24) == 30 and aime24[0].problem_id == "2024-II-1"
    aime25 = load_problems("aime25", SHARED / "aime25.jsonl")
    # spec: rows 0-14 are AIME 2025 I with answers 70, 588, ...; row 15 starts part II
    assert [p.ground_truth for p in aime25[:3]] == ["70", "588", "16"]
    assert aime25[0].problem_id == "2025-I-1" and aime25[15].problem_id == "2025-II-1"
    hmmt = load_problems("hmmt_feb2025", SHARED / "hmmt_feb2025.jsonl")
    assert len(hmmt) == 30 and hmmt[0].ground_truth == "103"
    amc = load_problems("amc23", SHARED / "amc23.jsonl")
    assert len(amc) == 40 and amc[0].ground_truth == "27"  # float 27.0 -> "27"
    math500 = load_problems("math500", SHARED / "math500.json")
    assert len(math500) == 500 and {p.extra["level"] for p in math500} == {1, 2, 3, 4, 5}
    for problems in (aime24, aime25, hmmt, amc, math500):
        assert all(p.messages[-1]["role"] == "user" and p.messages[-1]["content"] for p in problems)
        assert all(p.data_source == p.benchmark for p in problems)


def test_rl_schema_parquet(tmp_path):
    path = tmp_path / "val.parquet"
    pd.DataFrame(
        {
            "data_source": ["MATH-TTT", "MATH-TTT"],
            "prompt": [
                [{"role": "system", "content": "s"}, {"role": "user", "content": "1+1?"}],
                [{"role": "user", "content": "2+2?"}],
            ],
            "ability": ["math", "math"],
            "reward_model": [{"style": "rule", "ground_truth": "2"}, {"style": "rule", "ground_truth": "4"}],
            "extra_info": [
                {"split": "test", "index": 0, "source_id": "a", "level": "Level 1"},
                {"split": "test", "index": 1, "source_id": "b", "level": "Level 2"},
            ],
        }
    ).to_parquet(path)
    problems = load_problems("math_val", path)
    assert [p.problem_id for p in problems] == ["a", "b"]
    assert problems[0].extra == {"level": "Level 1"} and problems[1].ground_truth == "4"
    with_sys = with_system_prompt(problems, SIMPLERL_SYSTEM_PROMPT)
    assert with_sys[0].messages[0]["content"] == "s"  # an existing system turn is kept
    assert with_sys[1].messages[0] == {"role": "system", "content": SIMPLERL_SYSTEM_PROMPT}


def test_gold_to_string():
    assert gold_to_string(27.0, "x") == "27"
    assert gold_to_string(-1.0, "x") == "-1"
    assert gold_to_string(2.5, "x") == "2.5"
    with pytest.raises(TypeError):
        gold_to_string(True, "x")
