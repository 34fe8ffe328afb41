"""Each builder on source-shaped fixtures: exact output schema, loading with verl's own datasets,
report contents, and rejection of malformed rows with file, row and reason."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
from dp_fixtures import (
    acereason_row,
    apps_row,
    codecontests_row,
    deepscaler_row,
    gpqa_row,
    klear_code_row,
    klear_math_row,
    lcb_row,
    math_train_row,
    mmlu_pro_row,
    numinamath15_row,
    numinamath_cot_row,
    ocr_row,
    openr1_row,
    openthoughts3_row,
    openthoughts_114k_row,
    skywork_row,
    taco_row,
    write_csv,
    write_jsonl,
    write_parquet,
)

from data_prep.router_names import is_routable

CHAT = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


def _rl_schema(extra_fields):
    extra = [
        ("split", pa.string()),
        ("index", pa.int64()),
        ("source_id", pa.string()),
        ("source", pa.string()),
    ]
    return pa.schema(
        [
            ("data_source", pa.string()),
            ("prompt", CHAT),
            ("ability", pa.string()),
            ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
            ("extra_info", pa.struct(extra + extra_fields)),
        ]
    )


def test_sft_longcot_all_shapes(tmp_path, run_build, load_sft, tiny_tokenizer):
    inputs = [
        write_parquet(tmp_path / "ot114k.parquet", [openthoughts_114k_row()]),
        write_jsonl(tmp_path / "ot3.jsonl", [openthoughts3_row()]),
        # second generation is truncated (no </think>) and flagged incomplete: rejected, not dropped silently
        write_parquet(
            tmp_path / "openr1.parquet",
            [openr1_row(gens=[openr1_row()["generations"][0], "<think>\nI am st"], complete=[True, False])],
        ),
        write_jsonl(tmp_path / "numina.jsonl", [numinamath_cot_row()]),
        write_jsonl(
            tmp_path / "ace.jsonl",
            [acereason_row(), acereason_row(q="Write a function that reverses a list.", category="code")],
        ),
        write_jsonl(tmp_path / "ocr.jsonl", [ocr_row(), ocr_row(i="x2", q="-")]),
    ]
    report, out = run_build("sft-longcot", inputs)
    table = pq.read_table(out)
    assert table.schema == pa.schema([("messages", CHAT), ("source", pa.string()), ("id", pa.string())])
    rows = table.to_pylist()
    # 1 + 1 + 1 (one openr1 generation rejected) + 1 + 2 + 1 (the OCR split_1 placeholder row is rejected)
    assert [r["source"] for r in rows] == [
        "openthoughts",
        "openthoughts",
        "openr1_math",
        "numinamath",
        "acereason",
        "acereason",
        "opencodereasoning",
    ]
    first = rows[0]["messages"]
    assert first == [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "<think>\nAdd two and two.\n</think>\n\n\\boxed{4}"},
    ]
    for r in rows:
        assert (
            r["messages"][-1]["content"].startswith("<think>\n")
            and "\n</think>\n\n" in r["messages"][-1]["content"]
        )
    assert rows[3]["messages"][1]["content"] == (
        "<think>\nSix sevens are 42, so \\boxed{42}.\n</think>\n\nThe final answer is $\\boxed{42}$."
    )
    assert report["totals"] == {"read": 8, "rejected": 2, "dropped": 0, "written": 7}
    rejected = report["rejected"]["rows"]
    assert any(
        r.startswith(f"{inputs[2]}:1: ") and "is_reasoning_complete is false [generation 1]" in r
        for r in rejected
    )
    assert any(r.startswith(f"{inputs[5]}:2: input is the placeholder '-'") for r in rejected)

    ds = load_sft(out)
    assert len(ds) == 7
    item = ds[0]
    # the loss-masked span decodes to the assistant turn, think tags included (the SFT check in docs/data-and-eval.md)
    kept = item["input_ids"][item["loss_mask"].bool()].tolist()
    decoded = tiny_tokenizer.decode(kept)
    assert "<think>" in decoded and "</think>" in decoded and "\\boxed{4}" in decoded
    assert "What is 2+2?" not in decoded


def test_rl_math_all_shapes(tmp_path, run_build, load_rl):
    inputs = [
        write_jsonl(
            tmp_path / "mathsub.json", [klear_math_row(), klear_math_row(q="Bad gold", gt="\\text{}", idx=1)]
        ),
        write_parquet(tmp_path / "skywork.parquet", [skywork_row()]),
        write_parquet(tmp_path / "math_train.parquet", [math_train_row()]),
        write_jsonl(tmp_path / "dsr.json", [deepscaler_row()]),
        write_parquet(
            tmp_path / "numina15.parquet",
            [numinamath15_row(), numinamath15_row(q="Prove it.", answer="proof", qtype="proof")],
        ),
        write_jsonl(tmp_path / "numina_cot.jsonl", [numinamath_cot_row()]),
    ]
    report, out = run_build("rl-math", inputs)
    table = pq.read_table(out)
    assert table.schema == _rl_schema(
        [("original_data_source", pa.string()), ("level", pa.string()), ("type", pa.string())]
    )
    rows = table.to_pylist()
    assert [r["extra_info"]["index"] for r in rows] == list(range(6))
    assert [r["reward_model"]["ground_truth"] for r in rows] == ["7", "2", "(0, 0)", "9", "5", "42"]
    assert all(r["reward_model"]["style"] == "rule" and r["ability"] == "math" for r in rows)
    assert [r["data_source"] for r in rows] == ["math_longcot_math_verify"] * 2 + ["MATH-TTT"] + [
        "math_longcot_math_verify"
    ] * 3
    assert rows[0]["prompt"] == [{"role": "user", "content": "What is the units digit of 13^2003?"}]
    assert rows[0]["extra_info"]["source_id"] == "math_longcot_math_verify-0"
    assert rows[2]["prompt"][0]["role"] == "system" and rows[2]["extra_info"]["level"] == "Level 3"
    assert rows[2]["extra_info"]["source_id"] == "MATH-TTT-0"
    assert rows[0]["extra_info"]["level"] is None  # same struct fields on every row, null where absent
    reasons = report["rejected"]["by_reason"]
    assert reasons.get("gold math-verify cannot parse") == 1
    assert sum(v for k, v in reasons.items() if "proof" in k) == 1
    assert report["gold_validation"]["checked"] == 7
    assert [i["shape"] for i in report["inputs"]] == [
        "verl_rl_math",
        "verl_rl_math",
        "math_train",
        "deepscaler",
        "numinamath",
        "numinamath_cot",
    ]

    ds = load_rl(out)
    assert len(ds) == 6
    item = ds[2]
    assert item["index"] == 2 and item["data_source"] == "MATH-TTT"
    assert item["raw_prompt"][1]["content"].startswith("Find the center")


def test_rl_code_all_shapes(tmp_path, run_build, load_rl):
    functional = json.dumps({"functional": [f"assert f({i}) == {i}" for i in range(16)], "timeout": 35})
    inputs = [
        write_parquet(
            tmp_path / "klear_code.parquet",
            [
                klear_code_row(),
                klear_code_row(h="h2", gt=functional, statement="Implement f, the identity function."),
                klear_code_row(h="h3", gt=json.dumps({"pytest": "def test_x(): pass"})),
                klear_code_row(
                    h="h4", gt=json.dumps({"inputs": ["1\n"], "outputs": ["1\n"]}), statement="Too few tests."
                ),
            ],
        ),
        write_jsonl(tmp_path / "taco.jsonl", [taco_row()]),
        write_jsonl(tmp_path / "apps.jsonl", [apps_row()]),
        write_parquet(tmp_path / "cc.parquet", [codecontests_row()]),
        write_jsonl(
            tmp_path / "lcb.jsonl",
            [
                lcb_row(),
                lcb_row(
                    qid="lc1", functional=True, content="Return indices of two numbers adding to target."
                ),
            ],
        ),
    ]
    report, out = run_build("rl-code", inputs, max_test_cases=16)
    rows = pq.read_table(out).to_pylist()
    assert pq.read_schema(out) == _rl_schema(
        [("test_format", pa.string()), ("num_tests", pa.int64()), ("difficulty", pa.string())]
    )
    assert [r["extra_info"]["source_id"] for r in rows] == [
        "h1",
        "h2",
        "taco-" + rows[2]["extra_info"]["source_id"][5:],
        "apps-7",
        "codecontests-1A. Theatre",
        "lcb-abc300_a",
        "lcb-lc1",
    ]
    specs = [json.loads(r["reward_model"]["ground_truth"]) for r in rows]
    assert specs[0]["inputs"][:2] == ["0\n", "1\n"] and specs[0]["max_test_cases"] == 16
    assert specs[1] == {
        "functional": [f"assert f({i}) == {i}" for i in range(16)],
        "timeout": 35,
        "max_test_cases": 16,
    }
    # TACO call-based: args list [0, 1] -> newline-separated JSON args; output [1] stays a JSON list
    assert (
        specs[2]["fn_name"] == "add" and specs[2]["inputs"][0] == "0\n1" and specs[2]["outputs"][0] == "[1]"
    )
    assert len(specs[4]["inputs"]) == 1 + 18 + 1
    assert (
        specs[5]["inputs"][0] == "3\n1 2 3\n" and len(specs[5]["inputs"]) == 18 and "fn_name" not in specs[5]
    )
    assert specs[6]["fn_name"] == "twoSum" and specs[6]["inputs"][0] == "[2,7,11,15]\n9"
    assert all(r["data_source"] == "coder1_longcot" and r["ability"] == "code" for r in rows)
    assert rows[2]["prompt"][0]["content"].startswith("You are an expert Python programmer.")
    assert "```python\ndef add(a, b):\n```" in rows[2]["prompt"][0]["content"]
    assert report["rejected"]["by_reason"] == {"unsupported_test_format": 1}
    assert report["per_filter"]["min_tests"]["dropped"] == 1
    assert report["code_formats"] == {"call": 2, "functional": 1, "stdin": 4}
    assert len(load_rl(out)) == 7


def test_eval_sets_fixture_shapes_and_repeat(tmp_path, run_build, load_rl):
    inputs = [
        write_csv(tmp_path / "gpqa_diamond.csv", [gpqa_row("recA"), gpqa_row("recB")]),  # GPQA ships as CSV
        write_parquet(tmp_path / "mmlu_pro.parquet", [mmlu_pro_row()]),
        write_jsonl(
            tmp_path / "lcb.jsonl",
            [
                lcb_row(date="2024-07-31T00:00:00"),
                lcb_row(qid="in", date="2025-02-01T00:00:00"),
                lcb_row(qid="late", date="2025-02-01T12:00:00"),
            ],
        ),
    ]
    report, out = run_build("eval-sets", inputs, repeat=2, lcb_window="v5", seed=0)
    rows = pq.read_table(out).to_pylist()
    assert [r["data_source"] for r in rows] == ["gpqa_diamond"] * 4 + ["mmlu_pro"] * 2 + ["lcb_v5"] * 2
    assert [r["extra_info"]["index"] for r in rows] == list(range(8))
    assert [r["extra_info"]["repeat"] for r in rows] == [0, 1] * 4
    assert all(is_routable(r["data_source"]) for r in rows)
    # GPQA: the gold letter is wherever "Photon" landed after the seeded shuffle
    for r in rows[:4]:
        user = r["prompt"][1]["content"]
        letter = r["reward_model"]["ground_truth"]
        assert f"{letter}) Photon" in user and r["ability"] == "mc"
    assert rows[4]["reward_model"]["ground_truth"] == "B" and "B) 5" in rows[4]["prompt"][1]["content"]
    # the window ends at midnight 2025-02-01: "late" (12:00 that day) and the July problem are out
    assert {r["extra_info"]["source_id"] for r in rows[6:]} == {"lcb-in"}
    assert report["per_filter"]["lcb_window"]["dropped"] == 2
    assert rows[6]["prompt"][1]["content"].startswith("### Question:\nGiven N integers")
    assert len(load_rl(out)) == 8


def test_unknown_shape_and_missing_column_are_named(tmp_path, run_build):
    import pytest

    from data_prep.errors import DataPrepError

    odd = write_jsonl(tmp_path / "odd.jsonl", [{"foo": 1, "bar": 2}])
    with pytest.raises(DataPrepError, match=r"unknown rl-math source shape.*Columns found: bar, foo"):
        run_build("rl-math", [odd])
    # MATH-train shaped but without extra_info: the error names the shape and the missing column
    row = math_train_row()
    del row["extra_info"]
    no_info = write_jsonl(tmp_path / "math_no_info.jsonl", [row])
    with pytest.raises(DataPrepError, match=r"'math_train' but lacks column\(s\) extra_info"):
        run_build("rl-math", [no_info])


def test_malformed_rows_reported_with_file_and_row(tmp_path, run_build):
    path = write_jsonl(
        tmp_path / "dsr.jsonl",
        [
            deepscaler_row(),
            "{not json",
            {"problem": "No answer here", "solution": "s", "answer": None},
            deepscaler_row(q="Another one: 1+1?", answer="2"),
        ],
    )
    report, out = run_build("rl-math", [path])
    assert pq.read_metadata(out).num_rows == 2
    rows = report["rejected"]["rows"]
    # 1-based line numbers, as an editor shows them: line 1 is the first row
    assert rows[0].startswith(f"{path}:2: invalid JSON")
    assert rows[1] == f"{path}:3: field 'answer' is null"
    assert report["totals"]["rejected"] == 2
