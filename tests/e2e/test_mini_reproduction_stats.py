"""benchmarks/mini_reproduction.py: the statistics its results table reports, against hand-computed values."""

import importlib.util
import math
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "mini_reproduction.py"
_spec = importlib.util.spec_from_file_location("mini_reproduction", _PATH)
mini = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mini)


def test_mean_ci_is_the_student_t_interval():
    # [1, 2, 3]: mean 2, sample sd 1, t(0.975, df=2) = 4.303 -> half-width 4.303 / sqrt(3) = 2.4843
    m, lo, hi = mini.mean_ci([1.0, 2.0, 3.0])
    assert (
        m == 2.0 and lo == pytest.approx(2 - 2.4843, abs=1e-4) and hi == pytest.approx(2 + 2.4843, abs=1e-4)
    )
    m, lo, hi = mini.mean_ci([0.5])
    assert m == 0.5 and math.isnan(lo) and math.isnan(hi)


def _run(sft, rl):
    return {
        "heldout_pass1_sft": sft,
        "heldout_pass1_rl": rl,
        "curve": {"heldout_acc": {}, "train_reward": {}},
    }


def test_aggregate_gains_and_paired_difference_to_grpo():
    runs = {
        "grpo": {0: _run(0.2, 0.3), 1: _run(0.2, 0.4)},
        "g2rl": {0: _run(0.2, 0.35), 1: _run(0.2, 0.35)},
    }
    table = mini.aggregate(runs)
    assert table["grpo"]["gain"][0] == pytest.approx(0.15)
    assert table["g2rl"]["gain"][0] == pytest.approx(0.15)
    # paired by seed: (0.35 - 0.3, 0.35 - 0.4) = (+0.05, -0.05): mean 0, sd 0.0707, t(df=1) = 12.706
    m, _, hi = table["g2rl"]["minus_grpo"]
    assert m == pytest.approx(0.0, abs=1e-12) and hi == pytest.approx(
        12.706 * 0.070711 / math.sqrt(2), rel=1e-3
    )
    assert "minus_grpo" not in table["grpo"]
    text = mini.results_markdown(
        table, {"eval_protocol": "p", "sft_steps": 1, "rl_steps": 2, "machine": "m", "wall_min": 3}
    )
    assert "| g2rl | 2 | 20.0 [20.0, 20.0] | 35.0 [35.0, 35.0] | 15.0 [15.0, 15.0] |" in text
