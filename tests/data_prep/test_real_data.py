"""The real benchmark files in /work/shared/data (read in place, never copied into the repo)."""

from __future__ import annotations

import json
import re

import pyarrow.parquet as pq
import pytest
from dp_fixtures import SHARED_DATA

MATH_TRAIN = SHARED_DATA / "math_train.parquet"
MATH500 = SHARED_DATA / "math500.json"
EVAL_FILES = ["aime24.jsonl", "aime25.jsonl", "hmmt_feb2025.jsonl", "amc23.jsonl", "math500.json"]
pytestmark = pytest.mark.skipif(
    not MATH_TRAIN.exists(), reason=f"shared data folder {SHARED_DATA} not present"
)


def test_math_train_all_rows_and_decontamination_against_math500(run_build, load_rl):
    # one build does both checks: all 7,500 rows through rl-math, decontaminated against MATH-500
    report, out = run_build("rl-math", [MATH_TRAIN], decontaminate=[str(MATH500)], dedup=False, workers=2)
    removed = report["decontamination"]["removed_per_eval_set"].get("math500", 0)
    print(f"\nMATH train rows removed against MATH-500: {removed}")
    assert 0.01 * 7500 <= removed <= 0.06 * 7500  # the rules are checked row by row in test_decontam.py
    assert len(report["decontamination"]["removed"]) == removed
    gv = report["gold_validation"]
    assert report["totals"]["read"] == 7500
    # truncated golds ("\\frac{2\\sqrt{35") are rejected by name; recount them independently: golds
    # with more "{" than "}" among the rows that decontamination kept
    removed_ids = {r["source_id"] for r in report["decontamination"]["removed"]}
    rows = pq.read_table(MATH_TRAIN).to_pylist()
    truncated = [
        r["reward_model"]["ground_truth"]
        for r in rows
        if r["extra_info"]["index"] not in removed_ids
        and r["reward_model"]["ground_truth"].count("{") > r["reward_model"]["ground_truth"].count("}")
    ]
    by_reason = report["rejected"]["by_reason"]
    assert len(truncated) > 90 and by_reason["gold truncated"] == len(truncated)
    listed = [r for r in report["rejected"]["rows"] if ": gold truncated: ends inside " in r]
    assert len(listed) == len(truncated) and all(r.startswith(f"{MATH_TRAIN}:") for r in listed)
    # golds are checked for every row that survives dedup/decontamination (the cheap filters run first)
    assert gv["checked"] == 7500 - removed
    # every row is written, rejected (with a reason) or removed by decontamination
    assert report["totals"]["written"] + report["totals"]["rejected"] + removed == 7500
    assert gv["failed"] == report["totals"]["rejected"]
    # golds with units/equations are kept but counted: MATH train has such golds
    assert gv["warnings"]["contains '='"] > 0 and gv["warnings"]["contains currency"] > 0

    table = pq.read_table(out)
    first = table.slice(0, 1).to_pylist()[0]
    assert first["data_source"] == "MATH-TTT" and first["ability"] == "math"
    assert first["prompt"][0] == {
        "role": "system",
        "content": "Please reason step by step, and put your final answer within \\boxed{}.",
    }
    assert first["extra_info"]["index"] == 0 and first["extra_info"]["source_id"].startswith("MATH-TTT-")
    levels = {r["level"] for r in table.column("extra_info").to_pylist()}
    assert levels <= {"Level 1", "Level 2", "Level 3", "Level 4", "Level 5", "Level ?"}
    assert len(load_rl(out)) == table.num_rows


def test_eval_files_golds(run_build):
    report, out = run_build("eval-sets", [SHARED_DATA / f for f in EVAL_FILES], repeat=1)
    rows = pq.read_table(out).to_pylist()
    by_ds: dict[str, list[dict]] = {}
    for r in rows:
        by_ds.setdefault(r["data_source"], []).append(r)
    assert {k: len(v) for k, v in by_ds.items()} == {
        "aime24": 30,
        "aime25": 30,
        "hmmt_feb2025": 30,
        "amc23": 40,
        "math500": 500,
    }
    assert report["totals"]["rejected"] == 0
    aime25 = [r["reward_model"]["ground_truth"] for r in by_ds["aime25"][:15]]
    assert aime25 == [
        "70",
        "588",
        "16",
        "117",
        "279",
        "504",
        "821",
        "77",
        "62",
        "81",
        "259",
        "510",
        "204",
        "60",
        "735",
    ]
    assert by_ds["aime25"][0]["extra_info"]["source_id"] == "2025-I-1"
    assert by_ds["aime25"][15]["extra_info"]["source_id"] == "2025-II-1"
    assert by_ds["aime24"][0]["extra_info"]["source_id"] == "2024-II-1"
    assert all(
        re.fullmatch(r"\d+", r["reward_model"]["ground_truth"]) for r in by_ds["aime24"] + by_ds["aime25"]
    )
    # AMC golds are floats in the file (27.0): written as integer strings
    amc_raw = [
        json.loads(line) for line in (SHARED_DATA / "amc23.jsonl").read_text().splitlines() if line.strip()
    ]
    assert [r["reward_model"]["ground_truth"] for r in by_ds["amc23"]] == [
        str(int(r["answer"])) for r in amc_raw
    ]
    assert by_ds["amc23"][0]["reward_model"]["ground_truth"] == "27"
    # HMMT gold is the `answer` field (the `solution` field is the same wrapped in \boxed{})
    hmmt_raw = [
        json.loads(line)
        for line in (SHARED_DATA / "hmmt_feb2025.jsonl").read_text().splitlines()
        if line.strip()
    ]
    golds = [r["reward_model"]["ground_truth"] for r in by_ds["hmmt_feb2025"]]
    assert golds == [r["answer"] for r in hmmt_raw]
    assert all(r["solution"] == "\\boxed{" + r["answer"] + "}" for r in hmmt_raw)
    assert "\\frac{-1+\\sqrt{17}}{2}, \\frac{-1-\\sqrt{17}}{2}" in golds
    assert by_ds["math500"][0]["reward_model"]["ground_truth"] == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert by_ds["math500"][0]["prompt"] == [
        {"role": "user", "content": by_ds["math500"][0]["prompt"][0]["content"]}
    ]
    assert report["gold_validation"]["failed"] == 0


def test_humaneval_gz_is_a_decontamination_source(tmp_path):
    from data_prep.decontam import DecontaminationIndex

    idx = DecontaminationIndex(9)
    info = idx.add_file(SHARED_DATA / "HumanEval.jsonl.gz")
    assert info.shape == "humaneval" and info.questions == 164 and not info.unreadable_rows
    first_prompt = json.loads(__import__("gzip").open(SHARED_DATA / "HumanEval.jsonl.gz", "rt").readline())[
        "prompt"
    ]
    m = idx.match("Please solve: " + first_prompt)
    assert (m.eval_set, m.eval_id) == ("humaneval", "HumanEval/0")
