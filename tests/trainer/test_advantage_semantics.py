"""Issue 11: what our trainer's advantage step trains on, against verl 0.9.1's own `_compute_advantage`
run on the same in-memory TransferQueue data (the independent reference), and hand-derived values."""

import copy

import numpy as np
import pytest
import torch
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync

from g2rl_verl.trainer import RewardAwareSyncTrainer

G2RL_LAMBDA0 = ["algorithm.adv_estimator=g2rl", "algorithm.g2rl.shaping_lambda=0.0", "actor_rollout_ref.rollout.n=2"]
GRPO = ["algorithm.adv_estimator=grpo", "actor_rollout_ref.rollout.n=2"]
NLL = ["actor_rollout_ref.actor.policy_loss.positive_nll_coef=0.1"]
MASK = ["+reward.custom_reward_function.reward_kwargs.infra_failure=mask"]


def info(score01, valid=1.0):
    return {"acc": float(score01 == 1.0), "score01": float(score01), "valid": float(valid), "kind_id": 0}


def sample(key, score, score01=None, valid=1.0, length=3, phi=None, **extra):
    score01 = (score + 1) / 2 if score01 is None else score01
    s = {"key": key, "response_len": length, "score": score, "info": info(score01, valid), **extra}
    if phi is not None:
        s["phi"] = phi
    return s


def trainer(cfg):
    t = RewardAwareSyncTrainer.__new__(RewardAwareSyncTrainer)
    t.config = cfg
    return t


def run_ours(fake_tq, put, cfg, samples):
    batch = put(fake_tq, copy.deepcopy(samples))
    metrics = {}
    trainer(cfg)._compute_advantage(batch, metrics)
    return fake_tq.values["train"], metrics


def run_verl(fake_tq, put, cfg, samples):
    fake_tq.values.clear()
    batch = put(fake_tq, copy.deepcopy(samples))
    metrics = {}
    PPOTrainerSync._compute_advantage(trainer(cfg), batch, metrics)
    return fake_tq.values["train"], metrics


def first_adv(store, key):
    return float(store[key]["advantages"][0])


def rand_phi(i, d=4):
    return torch.randn(d, generator=torch.Generator().manual_seed(i)).tolist()


# -- item 3: multi-output agent loops ---------------------------------------------------------------


def two_runs_of_two_outputs():
    # group A: run 0 has outputs 0 (score 1) and 1 (final, score 1); run 1: outputs 0 (1) and 1 (final, -1)
    # group B: both runs end correct in their final output, one intermediate output is wrong
    rows = [("A_0_0", 1.0), ("A_0_1", 1.0), ("A_1_0", 1.0), ("A_1_1", -1.0),
            ("B_0_0", -1.0), ("B_0_1", 1.0), ("B_1_0", 1.0), ("B_1_1", -1.0)]
    return [sample(k, s, phi=rand_phi(i)) for i, (k, s) in enumerate(rows)]


def test_multi_output_runs_follow_verl_final_output_rule(fake_tq, put, compose_config):
    samples = two_runs_of_two_outputs()
    ours, _ = run_ours(fake_tq, put, compose_config(G2RL_LAMBDA0), samples)
    ours = {k: first_adv(ours, k) for k in ours}
    ref, _ = run_verl(fake_tq, put, compose_config(GRPO), samples)
    for key in ours:
        assert ours[key] == pytest.approx(first_adv(ref, key), abs=1e-6), key
    # hand check: group A's finals are (1, -1): unbiased std sqrt(2) -> +-1/sqrt(2), copied to run mates
    assert ours["A_0_0"] == pytest.approx(2**-0.5, abs=1e-5) and ours["A_1_0"] == pytest.approx(-(2**-0.5), abs=1e-5)


# -- item 2: G2RL's base reward is GRPO's sequence reward -------------------------------------------


def test_base_reward_is_the_reward_grpo_uses_not_score01(fake_tq, put, compose_config):
    # a reward manager changed the score after scoring (e.g. an overlong penalty): rm_scores != 2*score01-1
    samples = [sample("A_0_0", 0.5, score01=1.0, phi=rand_phi(0)), sample("A_1_0", -1.0, phi=rand_phi(1)),
               sample("B_0_0", 1.0, phi=rand_phi(2)), sample("B_1_0", -0.25, score01=0.0, phi=rand_phi(3))]
    ours, metrics = run_ours(fake_tq, put, compose_config(G2RL_LAMBDA0), samples)
    assert metrics["g2rl/base_reward_mean"] == pytest.approx((0.5 - 1.0 + 1.0 - 0.25) / 4)
    ref, _ = run_verl(fake_tq, put, compose_config(GRPO), samples)
    for key in ours:
        assert first_adv(ours, key) == pytest.approx(first_adv(ref, key), abs=1e-6)


def test_base_reward_outside_unit_interval_raises_with_the_sample(fake_tq, put, compose_config):
    samples = [sample("A_0_0", 1.0, phi=rand_phi(0)), sample("A_1_0", -2.0, score01=0.0, phi=rand_phi(1))]
    with pytest.raises(ValueError, match=r"r = -2.0 of sample 1.*outside \[-1, 1\].*docs/methods.md"):
        run_ours(fake_tq, put, compose_config(G2RL_LAMBDA0), samples)


# -- item 4: infrastructure failures under infra_failure=mask ---------------------------------------


@pytest.mark.parametrize("method", ["grpo", "g2rl"])
def test_masked_infra_failures_leave_the_update_and_the_group(fake_tq, put, compose_config, method):
    over = (G2RL_LAMBDA0 if method == "g2rl" else GRPO) + ["actor_rollout_ref.rollout.n=4"] + MASK
    samples = [sample("A_0_0", 1.0, phi=rand_phi(0)), sample("A_1_0", -1.0, phi=rand_phi(1)),
               sample("A_2_0", -1.0, phi=rand_phi(2)), sample("A_3_0", -1.0, valid=0.0, phi=rand_phi(3))]
    ours, _ = run_ours(fake_tq, put, compose_config(over), samples)
    assert ours["A_3_0"]["response_mask"].sum() == 0  # out of the token-mean, KL and entropy terms
    assert (ours["A_3_0"]["advantages"] == 0).all()
    # the other three are standardised among themselves: scores (1, -1, -1), unbiased std
    expected, _ = compute_grpo_outcome_advantage(
        torch.tensor([[1.0], [-1.0], [-1.0]]), torch.ones(3, 1), np.array(["A"] * 3, dtype=object)
    )
    for i, key in enumerate(["A_0_0", "A_1_0", "A_2_0"]):
        assert first_adv(ours, key) == pytest.approx(float(expected[i, 0]), abs=1e-5)
        assert ours[key]["response_mask"].sum() == 3


def test_default_policy_keeps_failures_as_wrong_answers(fake_tq, put, compose_config):
    samples = [sample("A_0_0", 1.0), sample("A_1_0", -1.0, valid=0.0)]
    ours, _ = run_ours(fake_tq, put, compose_config(GRPO + NLL), samples)
    ref, _ = run_verl(fake_tq, put, compose_config(GRPO), samples)
    assert ours["A_1_0"]["response_mask"].sum() == 3
    assert first_adv(ours, "A_1_0") == pytest.approx(first_adv(ref, "A_1_0"))


# -- item 9a: a group with one valid member --------------------------------------------------------


@pytest.mark.parametrize("method", ["grpo", "g2rl"])
def test_lone_valid_member_gets_zero_advantage(fake_tq, put, compose_config, method):
    over = (G2RL_LAMBDA0 if method == "g2rl" else GRPO) + MASK
    samples = [sample("A_0_0", 1.0, phi=rand_phi(0)), sample("A_1_0", -1.0, valid=0.0, phi=rand_phi(1)),
               sample("B_0_0", 1.0, phi=rand_phi(2)), sample("B_1_0", -1.0, phi=rand_phi(3))]
    ours, _ = run_ours(fake_tq, put, compose_config(over), samples)
    assert (ours["A_0_0"]["advantages"] == 0).all()  # no baseline: neither +1 nor its raw reward
    assert first_adv(ours, "B_0_0") == pytest.approx(2**-0.5, abs=1e-5)


# -- item 6: verl's padding samples ----------------------------------------------------------------


def test_padding_samples_are_left_out_of_our_metrics(fake_tq, put, compose_config):
    real = [sample("A_0_0", 1.0, phi=rand_phi(0)), sample("A_1_0", 1.0, phi=rand_phi(1)),
            sample("B_0_0", 1.0, phi=rand_phi(2)), sample("B_1_0", -1.0, phi=rand_phi(3))]
    # verl's padding copies the first sample's record (acc 1, score01 1) with an empty response mask
    pads = [dict(sample(f"padx_{i}_0", 0.0, score01=1.0, phi=rand_phi(9)), is_padding=True) for i in range(4)]
    _, metrics = run_ours(fake_tq, put, compose_config(G2RL_LAMBDA0 + NLL), real + pads)
    assert metrics["g2rl/base_reward_mean"] == pytest.approx(0.5)  # (1 + 1 + 1 - 1) / 4
    assert metrics["g2rl/uniform_group_frac"] == pytest.approx(0.5)  # A uniform, B mixed; no padding group
    assert metrics["gppo/positive_frac"] == pytest.approx(0.75)
    assert metrics["reward/infra_failure_rate"] == 0.0


# -- item 7: bypass mode ---------------------------------------------------------------------------


def test_bypass_mode_skips_rollout_correction_like_verl(fake_tq, put, compose_config):
    corr = ["algorithm.rollout_correction.bypass_mode=true", "algorithm.rollout_correction.rollout_is=token"]
    samples = [sample("A_0_0", 1.0, rollout_log_probs=torch.full((3,), -0.5)),
               sample("A_1_0", -1.0, rollout_log_probs=torch.full((3,), -2.0))]
    ours, _ = run_ours(fake_tq, put, compose_config(GRPO + NLL + corr), samples)
    ref, _ = run_verl(fake_tq, put, compose_config(GRPO + corr), samples)
    for key in ref:
        assert set(ours[key]) - {"gppo_positive"} == set(ref[key])  # no rollout_is_weights, same mask
        assert torch.equal(ours[key]["advantages"], ref[key]["advantages"])
