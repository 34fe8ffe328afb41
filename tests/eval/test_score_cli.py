"""`python -m g2rl_verl.eval score` on fixture generation files: real reward code, report, JSON and plot.

Fixtures (tests/eval/fixtures/*.generations.jsonl), graded by g2rl_verl.rewards with default settings:

aime24 (4 samples per problem):
  2024-II-1 (gold 73):  \\boxed{73} correct | \\boxed{73.0} correct (votes "73") | \\boxed{72} wrong | no box
  2024-I-1  (gold 236): \\boxed{17} wrong | \\boxed{ 17 } wrong | \\boxed{236} correct | unclosed box, truncated
  avg@4  = (2/4 + 1/4) / 2                                    = 37.5 %
  pass@2 = (1 - C(2,2)/C(4,2) + 1 - C(3,2)/C(4,2)) / 2 = (5/6 + 1/2) / 2 = 66.7 %
  pass@4 = (1 + 1) / 2                                        = 100 %
  maj@4: II-1 votes 73,73,72 -> 73 correct -> 1; I-1 votes 17,17,236 -> 17 wrong -> 0  => 50.0 %
  maj@2 (all 6 pairs): II-1 (1 + .5 + 1 + .5 + 1 + 0)/6 = 2/3; I-1 (0 + .5 + 0 + .5 + 0 + 1)/6 = 1/3 => 50.0 %
  truncation 1/8 = 12.5 %; no answer 2/8 = 25.0 %
gpqa_diamond (2 samples per problem):
  gpqa-1 (B): "Answer: B" correct | \\boxed{C} wrong;  gpqa-2 (D): "answer is (D)" correct | "Answer: D" correct
  avg@2 = (1/2 + 1)/2 = 75.0 %; pass@2 = 100 %; maj@2 = (tie 1/2 + 1)/2 = 75.0 %
"""

import json
import shutil
from pathlib import Path

import pytest

from g2rl_verl.eval.cli import EXIT_ERROR_RATE, main
from g2rl_verl.eval.records import GenerationRecord, read_scored, write_records

FIXTURES = Path(__file__).parent / "fixtures"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def scored_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval")
    for f in FIXTURES.glob("*.generations.jsonl"):
        shutil.copy(f, d / f.name)
    rc = main(["score", "--in-dir", str(d), "--paper-model", "Qwen3-4B-Base G2RL", "--concurrency", "4"])
    assert rc == 0
    return d


def _metric(report, bench, name):
    [b] = [b for b in report["benchmarks"] if b["benchmark"] == bench]
    return b["metrics"][name]["value"]


def test_scored_records_use_training_reward_code(scored_dir):
    recs = {(r.problem_id, r.sample_idx): r for r in read_scored(scored_dir / "aime24.scored.jsonl")}
    assert [recs[("2024-II-1", i)].kind for i in range(4)] == ["correct", "correct", "wrong", "no_answer"]
    assert recs[("2024-II-1", 1)].pred == "73.0" and recs[("2024-II-1", 1)].vote == "73"  # canonical vote
    assert recs[("2024-II-1", 3)].vote is None  # no answer: does not vote
    assert recs[("2024-I-1", 3)].truncated and recs[("2024-I-1", 3)].kind == "no_answer"
    assert all(r.verifier.startswith("g2rl_verl.rewards") for r in recs.values())
    # the g2rl profile's scalar (docs/rewards.md): +1 correct, -1 otherwise
    assert recs[("2024-II-1", 0)].score == 1.0 and recs[("2024-II-1", 2)].score == -1.0


def test_report_json_has_hand_derived_metrics(scored_dir):
    report = json.loads((scored_dir / "report.json").read_text())
    assert _metric(report, "aime24", "avg@4") == pytest.approx(0.375)
    assert _metric(report, "aime24", "pass@2") == pytest.approx(2 / 3)
    assert _metric(report, "aime24", "pass@4") == pytest.approx(1.0)
    assert _metric(report, "aime24", "maj@4") == pytest.approx(0.5)
    assert _metric(report, "aime24", "maj@2") == pytest.approx(0.5)
    assert _metric(report, "gpqa_diamond", "avg@2") == pytest.approx(0.75)
    assert _metric(report, "gpqa_diamond", "maj@2") == pytest.approx(0.75)
    [aime] = [b for b in report["benchmarks"] if b["benchmark"] == "aime24"]
    assert aime["truncation_rate"] == pytest.approx(1 / 8)
    assert aime["no_answer_rate"] == pytest.approx(2 / 8)
    assert aime["kind_counts"] == {"correct": 3, "no_answer": 2, "wrong": 3}
    lo, hi = aime["metrics"]["avg@4"]["ci95"]
    assert lo <= 0.375 <= hi
    # paper numbers: G2RL Table 1, Qwen3-4B-Base G2RL row, AIME24 pass@1 = 19.9
    [row] = [r for r in aime["paper"] if r["paper_metric"] == "pass@1"]
    assert (row["source"], row["paper_value"], row["our_metric"]) == ("G2RL_TABLE1", 19.9, "avg@4")
    assert row["our_value_pct"] == pytest.approx(37.5)


def test_markdown_and_plot(scored_dir):
    md = (scored_dir / "report.md").read_text()
    for line in (
        "| avg@4 | 37.5 |",
        "| pass@2 | 66.7 |",
        "| pass@4 | 100.0 |",
        "| maj@4 | 50.0 |",
        "| avg@2 | 75.0 |",
        "truncation rate (hit max tokens): 12.5",
        # per-`Part` breakdown: I = 1/4, II = 2/4 -> macro-average (25 + 50) / 2
        "macro-average over `Part`: 37.5",
        "| Qwen3-4B-Base G2RL | pass@1 | 19.9 |",
    ):
        assert line in md, line
    png = (scored_dir / "pass_at_k.png").read_bytes()
    assert png.startswith(PNG_SIGNATURE)
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # IHDR
    assert width > 100 and height > 100


def test_error_rate_above_threshold_exits_nonzero(tmp_path, capsys):
    # a code benchmark whose test spec is malformed: the verifier returns kind=error (valid=0)
    recs = [
        GenerationRecord(
            "lcb_v5",
            "p0",
            i,
            i,
            "lcb_v5",
            '{"inputs": []}',
            "h",
            "c",
            "m",
            None,
            "```python\nprint(1)\n```",
            "stop",
            3,
            5,
            False,
        )
        for i in range(2)
    ]
    write_records(tmp_path / "lcb_v5.generations.jsonl", recs)
    assert main(["score", "--in-dir", str(tmp_path)]) == EXIT_ERROR_RATE
    assert "timeout+error rate 100.000%" in capsys.readouterr().err
    report = json.loads((tmp_path / "report.json").read_text())  # still written for inspection
    assert report["benchmarks"][0]["kind_counts"] == {"error": 2}


def test_generate_without_vllm_explains(tmp_path):
    try:
        import vllm  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("vLLM is installed here; the missing-vLLM message cannot be exercised")
    with pytest.raises(SystemExit, match="vLLM is not installed.*score"):
        main(
            [
                "generate",
                "--benchmark",
                "aime24",
                "--data",
                str(FIXTURES / "aime24.generations.jsonl"),
                "--format",
                "rl",
                "--out-dir",
                str(tmp_path),
                "--model",
                "m",
                "--n",
                "1",
                "--temperature",
                "1",
                "--top-p",
                "1",
                "--max-tokens",
                "8",
            ]
        )


def test_report_warns_on_problem_count_and_says_when_maj_is_exact(scored_dir):
    report = json.loads((scored_dir / "report.json").read_text())
    [aime] = [b for b in report["benchmarks"] if b["benchmark"] == "aime24"]
    # 2 fixture problems against the paper's 30
    assert aime["problem_count_warning"].startswith("2 problems evaluated, the paper's aime24 has 30")
    # n = 4: C(4, k) <= 1000 for every k, so every maj@k enumerated all subsets
    assert aime["maj"]["exact_ks"] == [1, 2, 4]
    md = (scored_dir / "report.md").read_text()
    assert "> **Warning:** 2 problems evaluated, the paper's aime24 has 30" in md
    assert "maj@k: exact (every k-subset enumerated) for k = 1, 2, 4" in md
    assert report["provenance"]["sandbox"] == "not used (no code benchmark)"
    assert aime["lcb_window"] is None


def test_maj_exactness_boundary_in_a_summary():
    from g2rl_verl.eval.metrics import maj_is_exact
    from g2rl_verl.eval.records import ScoredRecord
    from g2rl_verl.eval.report import maj_description
    from g2rl_verl.eval.summary import summarize

    assert maj_is_exact(64, 1) and not maj_is_exact(64, 2) and maj_is_exact(64, 64)  # C(64,2) = 2016
    recs = [
        ScoredRecord(
            "b",
            f"p{p}",
            i,
            i,
            "b",
            "1",
            "h",
            "c",
            "m",
            None,
            "r",
            "stop",
            1,
            1,
            False,
            vote=str(i % 3),
            kind="correct" if i % 3 == 0 else "wrong",
            correct=i % 3 == 0,
        )
        for p in range(2)
        for i in range(16)
    ]
    s = summarize(recs, num_bootstrap=50)
    # C(16,1)=16, C(16,2)=120, C(16,16)=1 are enumerated; C(16,4)=1820 and C(16,8)=12870 are sampled
    assert s.maj_exact_ks == [1, 2, 16]
    assert maj_description(s) == (
        "exact (every k-subset enumerated) for k = 1, 2, 16; "
        "mean of 1000 seeded random k-subsets (seed 0) for k = 4, 8"
    )


def test_paper_points_and_ci_band_on_the_plot(scored_dir):
    from g2rl_verl.eval.report import render_plot
    from g2rl_verl.eval.summary import summarize

    report = json.loads((scored_dir / "report.json").read_text())
    [aime] = [b for b in report["benchmarks"] if b["benchmark"] == "aime24"]
    # G2RL Table 1, Qwen3-4B-Base G2RL, AIME24: pass@1 19.9 at k=1 and pass@16 43.8 at k=16 (maj@16 is no
    # point of the pass@k curve)
    assert sorted(map(tuple, aime["paper_points_on_plot"])) == [
        (1, 19.9, "Qwen3-4B-Base G2RL"),
        (16, 43.8, "Qwen3-4B-Base G2RL"),
    ]
    summary = summarize(read_scored(scored_dir / "aime24.scored.jsonl"), num_bootstrap=50)
    bare, with_paper = render_plot([summary]), render_plot([summary], ("Qwen3-4B-Base G2RL",))
    assert bare.startswith(PNG_SIGNATURE) and with_paper != bare


def test_paper_model_selects_exactly_that_row(tmp_path):
    from g2rl_verl.eval.paper_results import paper_numbers_for

    rows = paper_numbers_for("aime24", ("klear-reasoner-8b",))
    assert {p.model for p in rows} == {"Klear-Reasoner-8B"} and [p.value for p in rows] == [83.2]
    for f in FIXTURES.glob("*.generations.jsonl"):
        shutil.copy(f, tmp_path / f.name)
    with pytest.raises(SystemExit, match="names no row.*Klear-Reasoner-8B-SFT"):
        main(["score", "--in-dir", str(tmp_path), "--paper-model", "Klear"])


def test_code_benchmark_report_records_lcb_window_and_sandbox(tmp_path):
    recs = [
        GenerationRecord(
            "lcb_v5",
            "p0",
            i,
            i,
            "lcb_v5",
            '{"inputs": ["1\\n"], "outputs": ["1\\n"]}',
            "h",
            "c",
            "m",
            None,
            "```python\nprint(input())\n```",
            "stop",
            3,
            5,
            False,
        )
        for i in range(2)
    ]
    write_records(tmp_path / "lcb_v5.generations.jsonl", recs)
    main(["score", "--in-dir", str(tmp_path), "--reward-kwarg", "sandbox_backend=unsafe"])
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["provenance"]["sandbox"] == "unsafe: L0:none"
    [lcb] = report["benchmarks"]
    assert lcb["lcb_window"] == {
        "v5": "release_v5: 2024-08-01 <= contest_date <= 2025-02-01 (dates compared as midnight)"
    }
    assert (
        "LiveCodeBench v5 window: release_v5: 2024-08-01 <= contest_date <= 2025-02-01"
        in (tmp_path / "report.md").read_text()
    )
