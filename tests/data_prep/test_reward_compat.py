"""Cross-check with the reward module: every data_source we emit routes to the intended verifier
type, and every code ground truth we write parses with the reward's own test-spec parser."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from dp_fixtures import (
    SHARED_DATA,
    apps_row,
    codecontests_row,
    gpqa_row,
    klear_code_row,
    lcb_row,
    math_train_row,
    mmlu_pro_row,
    taco_row,
    write_jsonl,
)

from data_prep.router_names import EXACT, PREFIXES
from g2rl_verl.rewards import router  # noqa: F401 - registers the built-in verifiers
from g2rl_verl.rewards.code_spec import parse_test_spec
from g2rl_verl.rewards.registry import known_routes, resolve


def test_our_router_table_matches_the_reward_module():
    exact, prefixes = known_routes()
    assert set(EXACT) <= set(exact) and set(PREFIXES) <= set(prefixes)


def test_emitted_rows_route_and_parse(tmp_path, run_build):
    code = [
        write_jsonl(tmp_path / "klear.jsonl", [klear_code_row()]),
        write_jsonl(tmp_path / "taco.jsonl", [taco_row()]),
        write_jsonl(tmp_path / "apps.jsonl", [apps_row()]),
        write_jsonl(tmp_path / "cc.jsonl", [codecontests_row()]),
        write_jsonl(tmp_path / "lcb.jsonl", [lcb_row(functional=True)]),
    ]
    _, code_out = run_build("rl-code", code, out_name="code.parquet", code_timeout=35, max_test_cases=16)
    _, math_out = run_build(
        "rl-math", [write_jsonl(tmp_path / "m.jsonl", [math_train_row()])], out_name="m.parquet"
    )
    evals = [
        write_jsonl(tmp_path / "gpqa.jsonl", [gpqa_row()]),
        write_jsonl(tmp_path / "mmlu.jsonl", [mmlu_pro_row()]),
        write_jsonl(tmp_path / "lcb_eval.jsonl", [lcb_row()]),
        SHARED_DATA / "aime24.jsonl",
        SHARED_DATA / "hmmt_feb2025.jsonl",
    ]
    _, eval_out = run_build("eval-sets", evals, out_name="e.parquet", lcb_window="v5")
    expected_type = {"code": "code", "math": "math", "mc": "mc"}
    n_code = 0
    for out in (code_out, math_out, eval_out):
        for row in pq.read_table(out).to_pylist():
            assert resolve(row["data_source"]).name == expected_type[row["ability"]], row["data_source"]
            if row["ability"] == "code":
                gt = row["reward_model"]["ground_truth"]
                tests = parse_test_spec(gt)
                assert (
                    len(tests.cases) == row["extra_info"]["num_tests"]
                    if "num_tests" in row["extra_info"]
                    else len(json.loads(gt)["inputs"])
                )
                n_code += 1
    assert n_code == 6
