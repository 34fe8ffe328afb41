"""The synthetic addition task (`python -m data_prep synthetic`): schemas, split, determinism, and that our
math verifier scores its worked solutions as correct and corrupted ones as wrong."""

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from data_prep.errors import DataPrepError
from data_prep.schemas import SFT_SCHEMA, rl_schema
from data_prep.sources.synthetic import SyntheticConfig, build_synthetic, worked_solution
from g2rl_verl.rewards import compute_score


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    report = build_synthetic(SyntheticConfig(out, train=300, heldout=60, seed=3, code_check=2))
    return out, report


def test_worked_solution_hand_examples():
    assert worked_solution(47, 38) == "7+8=15 4+3+1=8 \\boxed{85}"
    assert worked_solution(99, 99) == "9+9=18 9+9+1=19 \\boxed{198}"
    assert worked_solution(10, 20) == "0+0=0 1+2=3 \\boxed{30}"
    assert worked_solution(505, 495) == "5+5=10 0+9+1=10 5+4+1=10 \\boxed{1000}"
    assert worked_solution(47, 38, boxed=False) == "7+8=15 4+3+1=8 answer 85"


def test_schemas_and_row_counts(built):
    out, report = built
    assert pq.read_schema(out / "sft_train.parquet").equals(SFT_SCHEMA)
    assert pq.read_schema(out / "rl_train.parquet").equals(rl_schema([]))
    assert pq.read_schema(out / "rl_heldout.parquet").equals(rl_schema([]))
    rows = {k: pq.read_table(out / k).num_rows for k in report["rows"]}
    assert rows["rl_train.parquet"] == 300 and rows["rl_heldout.parquet"] == 60
    assert rows["sft_heldout.parquet"] == 60 and rows["code_check.parquet"] == 2
    assert rows["sft_train.parquet"] > 300  # plus copies of the two code items


def test_heldout_is_disjoint_from_train_and_splits_are_labelled(built):
    out, _ = built
    train = pq.read_table(out / "rl_train.parquet").to_pylist()
    held = pq.read_table(out / "rl_heldout.parquet").to_pylist()
    train_prompts = {r["prompt"][0]["content"] for r in train}
    assert len(train_prompts) == 300
    assert not train_prompts & {r["prompt"][0]["content"] for r in held}
    assert {r["extra_info"]["split"] for r in train} == {"train"}
    assert {r["extra_info"]["split"] for r in held} == {"test"}
    sft_users = {r["messages"][0]["content"] for r in pq.read_table(out / "sft_train.parquet").to_pylist()}
    assert train_prompts <= sft_users and not sft_users & {r["prompt"][0]["content"] for r in held}


def test_golds_are_the_sums_and_the_verifier_agrees(built):
    out, _ = built
    sft = {
        r["messages"][0]["content"]: r["messages"][1]["content"]
        for r in pq.read_table(out / "sft_heldout.parquet").to_pylist()
    }
    for row in pq.read_table(out / "rl_heldout.parquet").to_pylist()[:20]:
        prompt, gold = row["prompt"][0]["content"], row["reward_model"]["ground_truth"]
        a, b = prompt.rstrip("=").split("+")
        assert int(gold) == int(a) + int(b)  # independent of the generator's arithmetic
        kwargs = {"profile": "g2rl", "think_mode": "none", "math_pool_size": 1}
        assert compute_score(row["data_source"], sft[prompt], gold, **kwargs)["acc"] == 1.0
        wrong = sft[prompt].replace(f"\\boxed{{{gold}}}", f"\\boxed{{{int(gold) + 1}}}")
        assert compute_score(row["data_source"], wrong, gold, **kwargs)["acc"] == 0.0


def test_unboxed_share_and_the_verifier_scores_unboxed_answers_as_no_answer(built):
    out, _ = built
    answers = [r["messages"][1]["content"] for r in pq.read_table(out / "sft_train.parquet").to_pylist()]
    sums = [a for a in answers if not a.startswith("```")]
    unboxed = [a for a in sums if "\\boxed" not in a]
    assert len(unboxed) == 150 and all(" answer " in a for a in unboxed)  # default fraction 0.5 of 300
    result = compute_score(
        "math", unboxed[0], unboxed[0].split()[-1], profile="g2rl", think_mode="none", math_pool_size=1
    )
    assert result["acc"] == 0.0 and result["score"] == -1.0


def test_code_items_are_valid_specs(built):
    out, _ = built
    for row in pq.read_table(out / "code_check.parquet").to_pylist():
        spec = json.loads(row["reward_model"]["ground_truth"])
        assert row["data_source"] == "taco" and len(spec["inputs"]) == len(spec["outputs"]) >= 1


def test_deterministic_by_seed_and_seed_changes_data(tmp_path):
    a = build_synthetic(SyntheticConfig(tmp_path / "a", train=50, heldout=10, seed=1))
    b = build_synthetic(SyntheticConfig(tmp_path / "b", train=50, heldout=10, seed=1))
    c = build_synthetic(SyntheticConfig(tmp_path / "c", train=50, heldout=10, seed=2))
    assert a["sha256"] == b["sha256"]
    assert a["sha256"]["rl_train.parquet"] != c["sha256"]["rl_train.parquet"]


def test_existing_output_with_other_settings_is_refused(tmp_path):
    build_synthetic(SyntheticConfig(tmp_path, train=20, heldout=5))
    with pytest.raises(DataPrepError, match="other settings"):
        build_synthetic(SyntheticConfig(tmp_path, train=21, heldout=5))
    build_synthetic(SyntheticConfig(tmp_path, train=21, heldout=5, overwrite=True))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"digits": 0}, "--digits"),
        ({"train": 0}, "--train"),
        ({"digits": 1, "train": 80, "heldout": 2}, "exceeds"),
    ],
)
def test_bad_settings_name_the_option(tmp_path, kwargs, message):
    with pytest.raises(DataPrepError, match=message):
        build_synthetic(SyntheticConfig(tmp_path, **kwargs))
    assert not list(tmp_path.iterdir())  # nothing written


def test_cli_writes_the_files(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "data_prep",
            "synthetic",
            "--out-dir",
            str(tmp_path),
            "--train",
            "40",
            "--heldout",
            "8",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["rl_heldout.parquet"] == 8
    bad = subprocess.run(
        [sys.executable, "-m", "data_prep", "synthetic", "--out-dir", str(tmp_path / "x"), "--digits", "9"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "--digits" in bad.stderr
