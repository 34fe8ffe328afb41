"""Source formats (AceReason-Math, Skywork-OR1 answer lists, NuminaMath-1.5 validity flags, one big JSON
array), gold rejection with reasons, and 1-based row numbers in the report."""

from __future__ import annotations

import io
import json
import tracemalloc

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dp_fixtures import (
    klear_code_row,
    klear_math_row,
    numinamath15_row,
    skywork_row,
    write_jsonl,
    write_parquet,
)

from data_prep.errors import DataPrepError
from data_prep.readers import iter_json_array, open_input
from data_prep.sources.rl_math import accepted_golds


def test_acereason_math_problem_answer_rows(tmp_path, run_build):
    # nvidia/AceReason-Math rows are {problem, answer} only
    path = write_jsonl(
        tmp_path / "acereason_math.jsonl",
        [
            {"problem": "Compute $2^{10}$.", "answer": "1024"},
            {"problem": "Half of 3?", "answer": "\\frac{3}{2}"},
        ],
    )
    report, out = run_build("rl-math", [path])
    rows = pq.read_table(out).to_pylist()
    assert [r["reward_model"]["ground_truth"] for r in rows] == ["1024", "\\frac{3}{2}"]
    assert [i["shape"] for i in report["inputs"]] == ["acereason_math"]
    assert rows[0]["prompt"] == [{"role": "user", "content": "Compute $2^{10}$."}]


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ('["2", "x=2"]', ["2", "x=2"]),  # JSON list literal
        ("['2', 'x=2', '2']", ["2", "x=2"]),  # Python list literal, duplicates dropped
        ('["7"]', ["7"]),
        ("[0, 1)", ["[0, 1)"]),  # an interval is one answer
        ("[1, 2]", ["1", "2"]),  # a list literal of numbers is a list of answers
        (["3", 3.0], ["3"]),  # a real list (parquet round trip): 3.0 -> "3", deduplicated
        ("42", ["42"]),
    ],
)
def test_accepted_golds(stored, expected):
    assert accepted_golds(stored) == expected


def test_skywork_rows_with_several_answers_are_kept_as_lists(tmp_path, run_build, load_rl):
    inputs = [
        write_parquet(
            tmp_path / "skywork.parquet",
            [skywork_row(gt='["2", "x=2"]', idx=1), skywork_row(q="Triple 3.", gt='["9"]', idx=2)],
        ),
        write_jsonl(tmp_path / "mathsub.jsonl", [klear_math_row()]),
    ]
    report, out = run_build("rl-math", inputs)
    table = pq.read_table(out)
    assert table.schema.field("reward_model").type.field("ground_truth").type == pa.list_(pa.string())
    golds = [r["reward_model"]["ground_truth"] for r in table.to_pylist()]
    assert golds == [["2", "x=2"], ["9"], ["7"]]
    assert report["gold_validation"]["checked"] == 4  # every accepted answer is checked
    ds = load_rl(out)
    assert list(ds[0]["reward_model"]["ground_truth"]) == ["2", "x=2"]


def test_skywork_single_answers_keep_string_golds(tmp_path, run_build):
    path = write_parquet(tmp_path / "skywork.parquet", [skywork_row(gt='["2"]')])
    _, out = run_build("rl-math", [path])
    table = pq.read_table(out)
    assert table.schema.field("reward_model").type.field("ground_truth").type == pa.string()
    assert table.to_pylist()[0]["reward_model"]["ground_truth"] == "2"


def test_numinamath15_validity_flags_are_honoured(tmp_path, run_build):
    bad_problem = {**numinamath15_row(q="Broken problem?"), "problem_is_valid": "No"}
    bad_solution = {**numinamath15_row(q="Wrong solution?"), "solution_is_valid": "Incomplete"}
    path = write_parquet(tmp_path / "numina15.parquet", [numinamath15_row(), bad_problem, bad_solution])
    report, out = run_build("rl-math", [path])
    assert pq.read_metadata(out).num_rows == 1
    reasons = report["rejected"]["by_reason"]
    assert reasons == {"numinamath_problem_invalid": 1, "numinamath_solution_invalid": 1}
    assert f"{path}:2: numinamath_problem_invalid: problem_is_valid is 'No'" in report["rejected"]["rows"]
    assert (
        f"{path}:3: numinamath_solution_invalid: solution_is_valid is 'Incomplete'"
        in report["rejected"]["rows"]
    )


def test_truncated_and_unparseable_golds_are_rejected_with_reasons(tmp_path, run_build):
    golds = ["\\frac{", "\\frac{2\\sqrt{35", "}{", "\\frac{1}{2}", "7", "x^", "(3, -1)"]
    path = write_jsonl(
        tmp_path / "mathsub.jsonl", [klear_math_row(q=f"Q{i}", gt=g, idx=i) for i, g in enumerate(golds)]
    )
    report, out = run_build("rl-math", [path])
    kept = [r["reward_model"]["ground_truth"] for r in pq.read_table(out).to_pylist()]
    assert kept == ["\\frac{1}{2}", "7", "(3, -1)"]
    rows = report["rejected"]["rows"]
    assert (
        rows[0] == f"{path}:1: gold truncated: ends inside \\frac{{ (unbalanced braces) (gold '\\\\frac{{')"
    )
    assert rows[1].startswith(f"{path}:2: gold truncated: ends inside \\frac{{")
    assert rows[2].startswith(f"{path}:3: gold unbalanced braces")
    assert rows[3].startswith(f"{path}:6: gold truncated: ends with '^'")
    assert report["gold_validation"]["failed"] == 4


def test_gold_validator_delegates_to_the_reward_rule():
    from data_prep.gold import GoldValidator
    from g2rl_verl.rewards.math_gold import gold_defect

    validator = GoldValidator()
    for gold in ["\\frac{", "1-\\frac{2}{\\pi}", "\\text{Evelyn}", "2^{25} \\cdot 26!", "$5", "abc}{"]:
        assert validator.failure(gold) == gold_defect(gold)


# ---- one big JSON array, streamed ------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 2, 7, 4096])
def test_iter_json_array_matches_json_load(chunk):
    data = [{"a": i, "s": "é\\u" * (i % 5), "n": [i, {"x": None}]} for i in range(50)] + [
        12345,
        "t",
        True,
        None,
        -1.5e3,
    ]
    text = json.dumps(data, indent=1)
    assert list(iter_json_array(io.StringIO(text), "t", chunk)) == data


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1,]", "element 2 is not valid JSON"),
        ("[1 2]", "expected ',' or ']' after element 1"),
        ('[{"a": 1}, {"b":', "element 2 is not valid JSON"),
        ("[", "ends early after element 0"),
        ('{"a": 1}', "not a JSON array"),
        ("[1]]", "unexpected text after"),
    ],
)
def test_iter_json_array_names_the_bad_element(text, message):
    with pytest.raises(DataPrepError, match=message):
        list(iter_json_array(io.StringIO(text), "t", 2))


def test_big_json_array_streams_with_bounded_memory(tmp_path, run_build):
    """A ~21 MB KlearReasoner-CodeSub-15K-like array: rows come out one at a time, and the peak of Python
    allocations while reading is a few 1 MB read chunks (json.load would hold the whole file, and more)."""
    spec = json.dumps({"inputs": [f"{i}\n" for i in range(16)], "outputs": [f"{i}\n" for i in range(16)]})
    path = tmp_path / "KlearReasoner-CodeSub-15K.json"
    n_rows = 2000
    with open(path, "w", encoding="utf-8") as f:
        f.write("[\n")
        for i in range(n_rows):
            row = klear_code_row(h=f"h{i}", gt=spec, statement=f"Print the number {i}. " + "pad " * 2500)
            f.write(("," if i else "") + json.dumps(row) + "\n")
        f.write("]\n")
    size = path.stat().st_size
    assert size > 20e6
    inp = open_input(path)
    tracemalloc.start()
    count = 0
    for row_no, row in inp.rows():
        count += 1
        assert row["hash"] == f"h{row_no - 1}"  # 1-based element numbers
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == n_rows
    assert peak < 8 << 20 < size / 2, f"peak {peak} bytes for a {size}-byte file"
    report, out = run_build("rl-code", [path], min_tests=16)
    assert pq.read_metadata(out).num_rows == n_rows and report["inputs"][0]["shape"] == "klear_codesub"
