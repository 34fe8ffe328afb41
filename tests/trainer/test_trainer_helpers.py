"""Pure helpers of our trainer: reward columns for G2RL / GPPO and the per-step reward metrics."""

import pytest
import torch

from g2rl_verl.trainer import reward_columns, reward_metrics


def test_reward_columns_extract_acc_score01_valid():
    infos = [{"acc": 1.0, "score01": 1.0, "valid": 1}, {"acc": 0.0, "score01": 0.25, "valid": 0}]
    cols = reward_columns(infos, 2)
    assert torch.equal(cols["acc"], torch.tensor([1.0, 0.0]))
    assert torch.equal(cols["score01"], torch.tensor([1.0, 0.25]))
    assert torch.equal(cols["valid"], torch.tensor([1.0, 0.0]))


def test_reward_columns_name_the_missing_key_and_the_fix():
    with pytest.raises(KeyError, match="score01.*pkg://g2rl_verl.rewards.router"):
        reward_columns([{"acc": 1.0, "valid": 1}], 1)


def test_reward_metrics_rates_latency_and_code_pass_rate():
    infos = [
        {"kind_id": 0, "valid": 1, "latency_s": 0.1, "n_selected": 4, "n_passed": 4},
        {"kind_id": 1, "valid": 1, "latency_s": 0.2, "n_selected": 4, "n_passed": 1},
        {"kind_id": 1, "valid": 1, "latency_s": 0.2, "n_selected": 0, "n_passed": 0},
        {"kind_id": 4, "valid": 0, "latency_s": 0.5, "n_selected": 0, "n_passed": 0},
    ]
    m = reward_metrics(infos)
    assert m["reward/kind_rate/correct"] == 0.25 and m["reward/kind_rate/wrong"] == 0.5
    assert m["reward/kind_rate/timeout"] == 0.25 and m["reward/kind_rate/error"] == 0.0
    assert m["reward/infra_failure_rate"] == 0.25
    assert m["reward/latency_s_mean"] == pytest.approx(0.25)
    assert m["reward/code_pass_rate_mean"] == pytest.approx((1.0 + 0.25) / 2)  # only rows with tests
    assert m["reward/code_frac"] == 0.5


def test_reward_metrics_skip_keys_other_reward_functions_lack():
    assert reward_metrics([{"score": 1.0}]) == {}
