"""Filters: pass rate, token length, responses per prompt; each counted."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from dp_fixtures import acereason_row, deepscaler_row, write_jsonl


def test_dedup_counts(tmp_path, run_build):
    train = write_jsonl(
        tmp_path / "dsr.jsonl",
        [
            deepscaler_row(q="What is 1+1?", answer="2"),
            deepscaler_row(q="What is 1+1?", answer="2"),  # exact duplicate
            deepscaler_row(q="  WHAT is 1+1? ", answer="2"),  # duplicate after normalisation
            deepscaler_row(q="What is 1+2?", answer="3"),
        ],
    )
    report, out = run_build("rl-math", [train])
    assert [r["prompt"][0]["content"] for r in pq.read_table(out).to_pylist()] == ["What is 1+1?", "What is 1+2?"]
    assert report["per_filter"]["dedup_exact"]["dropped"] == 1
    assert report["per_filter"]["dedup_normalized"]["dropped"] == 1


def test_pass_rate_filter(tmp_path, run_build):
    rows = [deepscaler_row(q=f"Problem {i}: compute {i}+{i}.", answer=str(2 * i)) for i in range(4)]
    train = write_jsonl(tmp_path / "dsr.jsonl", rows)
    from data_prep.sources.rl_math import content_id

    ids = [content_id("deepscaler", r["problem"]) for r in rows]
    rollouts = write_jsonl(
        tmp_path / "rollouts.jsonl",
        [
            {"source_id": ids[0], "n": 16, "n_correct": 9},  # 0.5625: kept (Klear >= 9/16)
            {"source_id": ids[1], "n": 16, "n_correct": 8},  # 0.5: dropped, below
            *[{"source_id": ids[2], "correct": c} for c in (True, True, True, True)],  # 1.0: kept at hi=1
        ],
    )  # ids[3]: no results -> dropped as missing
    report, out = run_build("rl-math", [train], pass_rate_file=str(rollouts), pass_rate_range=(0.5625, 1.0))
    kept = [r["extra_info"]["source_id"] for r in pq.read_table(out).to_pylist()]
    assert kept == [ids[0], ids[2]]
    assert report["filter_details"]["pass_rate"]["outcomes"] == {"below": 1, "kept": 2, "missing": 1}
    assert report["per_filter"]["pass_rate"]["dropped"] == 2


def test_token_length_and_responses_per_prompt(tmp_path, run_build, tiny_tokenizer_dir, tiny_tokenizer):
    short, long_q = acereason_row(q="Q1"), acereason_row(q="Q2 " + "x" * 400)
    many = [acereason_row(q="Q3") for _ in range(3)]
    for k, r in enumerate(many):
        r["output"] = f"<think>\nidea {k}\n</think>\n\n\\boxed{{{k}}}"
    train = write_jsonl(tmp_path / "ace.jsonl", [short, long_q, *many])
    msgs = [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "<think>\nGauss: 10*11/2.\n</think>\n\n\\boxed{55}"},
    ]
    n_short = len(tiny_tokenizer.apply_chat_template(msgs, tokenize=True, return_dict=False))
    report, out = run_build(
        "sft-longcot",
        [train],
        tokenizer=str(tiny_tokenizer_dir),
        max_tokens=n_short,
        max_responses_per_prompt=2,
    )
    users = [r["messages"][0]["content"] for r in pq.read_table(out).to_pylist()]
    assert users == ["Q1", "Q3", "Q3"]
    assert report["per_filter"]["token_length"]["dropped"] == 1
    assert report["per_filter"]["responses_per_prompt"]["dropped"] == 1
    assert report["length_histograms"]["tokens"]["max"] <= n_short


def test_bad_rollout_file_is_named(tmp_path, run_build):
    import pytest

    from data_prep.errors import DataPrepError

    train = write_jsonl(tmp_path / "dsr.jsonl", [deepscaler_row()])
    bad = tmp_path / "r.jsonl"
    bad.write_text(json.dumps({"source_id": "a", "n": 2, "n_correct": 3}) + "\n")
    with pytest.raises(DataPrepError, match=r"r.jsonl:1: need integers 0 <= n_correct <= n"):
        run_build("rl-math", [train], pass_rate_file=str(bad))
