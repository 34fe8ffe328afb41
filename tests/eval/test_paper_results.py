"""The published-numbers module: table shapes and spot values copied from the spec tables."""

from collections import Counter

from g2rl_verl.eval.paper_results import PAPER_NUMBERS, our_metric_for, paper_numbers_for


def test_every_table_is_complete():
    by_source = Counter(p.source for p in PAPER_NUMBERS)
    # Klear Table 1: 11 rows x 5 columns; CE-GPPO README: 8 x 5; G2RL Table 1: 8 x 12; Table 2: 4 x 5
    assert by_source == {"KLEAR_TABLE1": 55, "CE_GPPO_README": 40, "G2RL_TABLE1": 96, "G2RL_TABLE2": 20}


def test_spot_values():
    def one(source, model, bench, metric):
        [p] = [
            p
            for p in PAPER_NUMBERS
            if (p.source, p.model, p.benchmark, p.metric) == (source, model, bench, metric)
        ]
        return p.value

    assert one("KLEAR_TABLE1", "Klear-Reasoner-8B", "aime24", "avg@64") == 83.2
    assert one("KLEAR_TABLE1", "Klear-Reasoner-8B-SFT", "lcb_v6", "avg@8") == 49.6
    assert one("CE_GPPO_README", "DS-R1-Distill-Qwen-1.5B +DAPO", "hmmt_feb2025", "unstated") == 19.17
    assert one("G2RL_TABLE1", "Qwen3-4B-Base G2RL", "aime25", "maj@16") == 29.0
    assert one("G2RL_TABLE1", "Qwen3-1.7B-Base GRPO", "amc", "pass@16") == 68.1
    assert one("G2RL_TABLE2", "Qwen3-4B-Base G2RL", "mmlu_pro", "pass@1") == 58.47


def test_lookup_and_metric_mapping():
    rows = paper_numbers_for("amc23", ("Qwen3-4B-Base G2RL",))
    # our amc23 shows the paper's AMC column; the filter keeps exactly that row (not the 1.7B G2RL row)
    assert {(p.model, p.metric) for p in rows if p.source == "G2RL_TABLE1"} == {
        ("Qwen3-4B-Base G2RL", k) for k in ("pass@1", "maj@16", "pass@16")
    }
    assert paper_numbers_for("amc23", ("G2RL",)) == []  # a substring is not a row label
    assert all("inferred" in p.note for p in rows if p.benchmark == "amc")
    assert our_metric_for("pass@1") == "avg@n" and our_metric_for("avg@64") == "avg@n"
    assert our_metric_for("pass@16") == "pass@16" and our_metric_for("maj@16") == "maj@16"
