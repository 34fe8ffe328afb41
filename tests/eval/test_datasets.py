"""Benchmark parsers and loaders on the shared benchmark files and on the RL schema; one parser per
format, shared with data_prep."""

import json
from pathlib import Path

import pandas as pd
import pytest

from g2rl_verl.eval.datasets import (
    LCB_WINDOWS,
    SIMPLERL_SYSTEM_PROMPT,
    BenchmarkRowError,
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
    assert len(hmmt) == 30 and hmmt[0].ground_truth == "103" and hmmt[3].problem_id == "hmmt_feb2025-3"
    amc = load_problems("amc23", SHARED / "amc23.jsonl")
    assert len(amc) == 40 and amc[0].ground_truth == "27"  # float 27.0 -> "27"
    assert amc[0].problem_id.startswith("amc23-")
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
    assert gold_to_string(" 7 ", "x") == "7"
    for bad in (True, float("nan"), float("inf"), "  ", None, [1]):
        with pytest.raises(BenchmarkRowError, match="'x'"):
            gold_to_string(bad, "x")


def _aime25_row(number: int, part: int, answer: str) -> dict:
    q = f"AIME 2025 problem {number}"
    return {
        "meta": {"unique_id": number, "Part": part, "solution": answer, "problem": q},
        "messages": [{"role": "user", "content": q}],
    }


def test_aime25_ids_come_from_the_row_not_its_position(tmp_path):
    # part II's first problem listed first, then part I's third: ids follow unique_id/Part, not the line
    path = tmp_path / "aime25.jsonl"
    rows = [_aime25_row(15, 0, "5"), _aime25_row(2, 2, "16")]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [p.problem_id for p in load_problems("aime25", path)] == ["2025-II-1", "2025-I-3"]
    with pytest.raises(ValueError, match=r"aime25.jsonl:1: .*outside AIME 2025"):
        path.write_text(json.dumps(_aime25_row(30, 0, "1")) + "\n")
        load_problems("aime25", path)


def test_bad_rows_are_named_with_their_line(tmp_path):
    path = tmp_path / "hmmt.jsonl"
    good = {"id": 0, "messages": [{"role": "user", "content": "Q"}], "answer": "1"}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps({"id": 1, "messages": [], "answer": "2"}) + "\n")
    with pytest.raises(ValueError, match=r"hmmt.jsonl:3: field 'messages' must hold exactly one"):
        load_problems("hmmt_feb2025", path)


def test_one_system_prompt_and_one_parser_for_both_tools():
    import data_prep.sources.base as dp_base
    import data_prep.sources.eval_sets as dp_eval

    assert dp_base.SIMPLERL_SYSTEM_PROMPT is SIMPLERL_SYSTEM_PROMPT
    assert dp_eval.LCB_WINDOWS is LCB_WINDOWS
    # the literal prompt text is written once in the source tree
    root = Path(__file__).resolve().parents[2]
    hits = [
        p
        for d in ("g2rl_verl", "data_prep")
        for p in (root / d).rglob("*.py")
        if "put your final answer within" in p.read_text(encoding="utf-8")
    ]
    assert hits == [root / "g2rl_verl" / "eval" / "datasets.py"]


@needs_shared
def test_data_prep_and_the_harness_read_the_benchmarks_identically(tmp_path):
    """The eval-sets parquet loaded with --format rl gives the very problems the direct loader gives:
    same ids (so the same sampling seeds), golds, questions and breakdown fields."""
    from data_prep.pipeline import BuildConfig, build

    files = {
        "aime24": "aime24.jsonl",
        "aime25": "aime25.jsonl",
        "hmmt_feb2025": "hmmt_feb2025.jsonl",
        "amc23": "amc23.jsonl",
        "math500": "math500.json",
    }
    for bench, name in files.items():
        out = tmp_path / f"{bench}.parquet"
        build(BuildConfig("eval-sets", [str(SHARED / name)], out, progress=False, workers=1))
        direct = load_problems(bench, SHARED / name)
        via_parquet = load_problems(bench, out, fmt="rl")
        assert [(p.problem_id, p.ground_truth, p.messages, p.data_source) for p in via_parquet] == [
            (p.problem_id, p.ground_truth, p.messages, p.data_source) for p in direct
        ], bench
        assert [p.extra for p in via_parquet] == [p.extra for p in direct], bench
