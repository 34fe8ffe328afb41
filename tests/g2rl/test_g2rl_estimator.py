"""The `g2rl` advantage estimator (g2rl_verl.g2rl_estimator) against verl's own GRPO estimator."""

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from verl.trainer.ppo import core_algos
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage

from g2rl_verl.g2rl import estimator as est
from g2rl_verl.g2rl.config import G2RLConfig, G2RLConfigError
from g2rl_verl.g2rl.validation import validate_g2rl_config
from g2rl_verl.registry_guard import RegistryCollisionError


def algorithm_cfg(**g2rl_keys):
    return OmegaConf.create(
        {
            "adv_estimator": "g2rl",
            "norm_adv_by_std_in_grpo": True,
            "use_kl_in_reward": False,
            "g2rl": g2rl_keys,
        }
    )


def batch(seed=0, groups=3, size=4, resp_len=7, soft=False):
    gen = torch.Generator().manual_seed(seed)
    bsz = groups * size
    lengths = torch.randint(2, resp_len + 1, (bsz,), generator=gen)
    mask = (torch.arange(resp_len).unsqueeze(0) < lengths.unsqueeze(1)).float()  # [bs, resp_len] right padded
    score01 = torch.randint(0, 2, (bsz,), generator=gen).float()
    if soft:
        score01 = torch.rand(bsz, generator=gen)
    r = 2 * score01 - 1
    token_rewards = torch.zeros(bsz, resp_len)
    token_rewards[torch.arange(bsz), lengths - 1] = r  # outcome reward at the last valid token, as verl does
    index = np.array([f"uid{i // size}" for i in range(bsz)], dtype=object)
    phi = torch.randn(bsz, 6, generator=gen)
    return token_rewards, mask, index, phi, score01


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("norm_by_std", [True, False])
@pytest.mark.parametrize("give_score01", [True, False])
def test_lambda_zero_reproduces_verl_grpo_exactly(soft, norm_by_std, give_score01):
    rewards, mask, index, phi, score01 = batch(soft=soft)
    cfg = algorithm_cfg(shaping_lambda=0.0)
    cfg.norm_adv_by_std_in_grpo = norm_by_std
    adv, ret = est.compute_g2rl_advantage(
        rewards, mask, index, cfg, g2rl_phi=phi, score01=score01 if give_score01 else None
    )
    ref_adv, ref_ret = compute_grpo_outcome_advantage(
        rewards, mask, index, norm_adv_by_std_in_grpo=norm_by_std
    )
    assert torch.equal(adv, ref_adv) and torch.equal(ret, ref_ret)
    assert adv.abs().sum() > 0


def test_shaping_changes_advantages_and_matches_grpo_of_the_shaped_rewards():
    rewards, mask, index, phi, score01 = batch(seed=1)
    cfg = algorithm_cfg(shaping_lambda=0.5, shaping_mode="prose")
    adv, _, metrics = est.compute_g2rl_advantage_with_metrics(
        rewards, mask, index, cfg, g2rl_phi=phi, score01=score01
    )
    # independent path: pure shaping, placed at the last valid token, through verl's GRPO
    from g2rl_verl.g2rl import shaping as g2rl

    shaped = g2rl.shaped_rewards(score01, phi, list(index), lam=0.5, mode="prose").float()
    placed = torch.zeros_like(rewards)
    placed[torch.arange(len(index)), mask.sum(1).long() - 1] = shaped
    ref_adv, _ = compute_grpo_outcome_advantage(placed, mask, index)
    torch.testing.assert_close(adv, ref_adv, atol=0, rtol=0)
    grpo_adv, _ = compute_grpo_outcome_advantage(rewards, mask, index)
    assert not torch.allclose(adv, grpo_adv)
    assert (adv[mask == 0] == 0).all()  # broadcast over valid response tokens only
    assert metrics["g2rl/base_reward_mean"] == pytest.approx(float((2 * score01 - 1).mean()))


def test_spec_m4_example_grpo_advantages():
    # the m = 4 worked example (shaped rewards derived in test_g2rl_shaping.py): eq12 r~ = (1, 1, -0.5, -0.789599),
    # mean 0.177600, unbiased std 0.956957 -> A = (0.859390, 0.859390, -0.708077, -1.010702)
    r2 = 2**-0.5
    phi = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [r2, r2]])
    score01 = torch.tensor([1.0, 1.0, 0.0, 0.0])
    mask = torch.ones(4, 3)
    adv, _ = est.compute_g2rl_advantage(
        torch.zeros(4, 3), mask, ["g"] * 4, algorithm_cfg(), g2rl_phi=phi, score01=score01
    )
    expected = torch.tensor([0.859390, 0.859390, -0.708077, -1.010702])
    torch.testing.assert_close(adv[:, 0], expected, atol=2e-6, rtol=0)
    torch.testing.assert_close(adv, adv[:, :1].expand(4, 3))


def test_jagged_features_as_verl_returns_them_are_accepted():
    rewards, mask, index, phi, score01 = batch(seed=4)
    jagged = torch.nested.as_nested_tensor(list(phi.unbind()), layout=torch.jagged)  # [bs, j=d]
    dense_adv, _ = est.compute_g2rl_advantage(
        rewards, mask, index, algorithm_cfg(), g2rl_phi=phi, score01=score01
    )
    jagged_adv, _ = est.compute_g2rl_advantage(
        rewards, mask, index, algorithm_cfg(), g2rl_phi=jagged, score01=score01
    )
    assert torch.equal(dense_adv, jagged_adv)


def test_missing_reward_extra_info_entries_are_reported():
    rewards, mask, index, phi, score01 = batch(seed=5)
    valid = [1] * len(index)
    valid[3] = None
    with pytest.raises(ValueError, match="`valid` of sample 3 is missing"):
        est.compute_g2rl_advantage(
            rewards, mask, index, algorithm_cfg(), g2rl_phi=phi, score01=score01, valid=valid
        )
    scores = score01.tolist()
    scores[2] = None
    with pytest.raises(ValueError, match="`score01` of sample 2 is missing"):
        est.compute_g2rl_advantage(rewards, mask, index, algorithm_cfg(), g2rl_phi=phi, score01=scores)


def test_invalid_samples_get_zero_advantage_and_do_not_move_their_group():
    rewards, mask, index, phi, score01 = batch(seed=2)
    valid = torch.ones(len(index), dtype=torch.bool)
    valid[[1, 6]] = False
    cfg = algorithm_cfg()
    adv, ret, metrics = est.compute_g2rl_advantage_with_metrics(
        rewards, mask, index, cfg, g2rl_phi=phi, score01=score01, valid=valid
    )
    assert (adv[~valid] == 0).all() and (ret[~valid] == 0).all()
    keep = valid.nonzero().squeeze(1)
    alone, _ = est.compute_g2rl_advantage(
        rewards[keep], mask[keep], index[keep.numpy()], cfg, g2rl_phi=phi[keep], score01=score01[keep]
    )
    torch.testing.assert_close(adv[keep], alone, atol=1e-6, rtol=0)
    assert metrics["g2rl/invalid_frac"] == pytest.approx(2 / len(index))


def test_empty_response_keeps_its_base_reward():
    rewards, mask, index, phi, score01 = batch(seed=3)
    mask[0] = 0.0  # L_0 = 0: Phi_0 is treated as 0 whatever the engine sent
    res_adv, _, metrics = est.compute_g2rl_advantage_with_metrics(
        rewards, mask, index, algorithm_cfg(), g2rl_phi=phi, score01=score01
    )
    assert (res_adv[0] == 0).all()  # no tokens to carry an advantage
    assert np.isfinite(list(metrics.values())).all()


def test_missing_features_and_groups_raise_with_the_fix():
    rewards, mask, index, phi, _ = batch()
    with pytest.raises(ValueError, match="python -m g2rl_verl.main"):
        est.compute_g2rl_advantage(rewards, mask, index, algorithm_cfg())
    with pytest.raises(ValueError, match="group ids"):
        est.compute_g2rl_advantage(rewards, mask, None, algorithm_cfg(), g2rl_phi=phi)


def test_klear_scale_rewards_are_rejected_when_score01_falls_back():
    rewards, mask, index, phi, _ = batch()
    rewards[0, 0] = -2.0  # e.g. the klear profile's format penalty
    with pytest.raises(ValueError, match="sample 0.*outside \\[-1, 1\\]"):
        est.compute_g2rl_advantage(rewards, mask, index, algorithm_cfg(), g2rl_phi=phi)


def test_register_is_idempotent_and_refuses_to_clobber(monkeypatch):
    monkeypatch.delitem(core_algos.ADV_ESTIMATOR_REGISTRY, "g2rl", raising=False)
    est.register()
    est.register()
    assert core_algos.get_adv_estimator_fn("g2rl") is est.compute_g2rl_advantage
    monkeypatch.setitem(core_algos.ADV_ESTIMATOR_REGISTRY, "g2rl", compute_grpo_outcome_advantage)
    with pytest.raises(RegistryCollisionError, match="g2rl"):
        est.register()


def test_verl_compute_advantage_by_name_says_to_use_our_entry_point(monkeypatch):
    from verl import DataProto
    from verl.trainer.ppo.ray_trainer import compute_advantage

    monkeypatch.delitem(core_algos.ADV_ESTIMATOR_REGISTRY, "g2rl", raising=False)
    est.register()
    rewards, mask, index, _, _ = batch()
    data = DataProto.from_dict(
        tensors={"token_level_rewards": rewards, "response_mask": mask}, non_tensors={"uid": index}
    )
    with pytest.raises(ValueError, match="g2rl_phi"):
        compute_advantage(data, "g2rl", config=algorithm_cfg())


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"shaping_mode": "eq13"}, "algorithm.g2rl.shaping_mode"),
        ({"shaping_lambda": -1.0}, "algorithm.g2rl.shaping_lambda"),
        ({"reward_clip": 0.5}, "algorithm.g2rl.reward_clip"),
        ({"feature_chunk_tokens": 0}, "algorithm.g2rl.feature_chunk_tokens"),
        ({"base_reward": "klear"}, "algorithm.g2rl.base_reward"),
        ({"skip_uniform_groups": "yes"}, "algorithm.g2rl.skip_uniform_groups"),
        ({"shaping_lamda": 0.5}, "unknown key.*algorithm.g2rl.shaping_lamda"),
        ({"enable": True}, "algorithm.adv_estimator=g2rl"),
    ],
)
def test_config_errors_name_the_key(keys, message):
    with pytest.raises(G2RLConfigError, match=message):
        G2RLConfig.from_algorithm(algorithm_cfg(**keys))


def actor_rollout_ref(**over):
    cfg = {"model": {"use_fused_kernels": False}, "actor": {"strategy": "fsdp2"}, "rollout": {"n": 4}}
    for dotted, value in over.items():
        section, key = dotted.split("__")
        cfg[section][key] = value
    return OmegaConf.create(cfg)


def test_validate_accepts_the_defaults_and_ignores_other_estimators():
    validate_g2rl_config(algorithm_cfg(), actor_rollout_ref())
    grpo = OmegaConf.create({"adv_estimator": "grpo"})
    validate_g2rl_config(grpo, actor_rollout_ref(model__use_fused_kernels=True))  # not our business


@pytest.mark.parametrize(
    ("algo_over", "arr_over", "message"),
    [
        ({}, {"model__use_fused_kernels": True}, "actor_rollout_ref.model.use_fused_kernels"),
        ({}, {"actor__strategy": "megatron"}, "Megatron is not supported"),
        ({}, {"actor__strategy": "fsdp"}, "actor_rollout_ref.actor.strategy=fsdp2"),
        ({}, {"rollout__n": 1}, "actor_rollout_ref.rollout.n"),
        ({"use_kl_in_reward": True}, {}, "algorithm.use_kl_in_reward"),
        ({"rollout_correction": {"bypass_mode": True}}, {}, "algorithm.rollout_correction.bypass_mode"),
    ],
)
def test_validate_rejects_unsupported_setups(algo_over, arr_over, message):
    algo = OmegaConf.merge(algorithm_cfg(), algo_over)
    with pytest.raises(G2RLConfigError, match=message):
        validate_g2rl_config(algo, actor_rollout_ref(**arr_over))


def test_incorrect_positive_advantage_share_hand_computed():
    """One all-incorrect group of 3 with features e1, e1, e2 (derivation as in the spec's m=4 example):
    S_12 = 1, S_13 = S_23 = 0; equal rewards give w_ij = 1/2, so nu = (1 - 1/2, 1 - 1/2, 1 - 0) =
    (0.5, 0.5, 1) and min-max nu_bar = (0, 0, 1). eq12 with lambda 0.5: r~ = -1 + 0.5 nu_bar =
    (-1, -1, -0.5), mean -5/6: only the third is above it, so 1 of 3 incorrect responses gets a positive
    advantage. Plain GRPO (lambda 0) and skip_uniform_groups give this group advantage 0: share 0."""
    mask = torch.ones(3, 4)
    rewards = torch.zeros(3, 4)
    rewards[:, -1] = -1.0
    index = np.array(["g", "g", "g"], dtype=object)
    phi = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    adv, _, m = est.compute_g2rl_advantage_with_metrics(rewards, mask, index, algorithm_cfg(), g2rl_phi=phi)
    assert (adv[:, 0] > 0).tolist() == [False, False, True]
    assert m["g2rl/incorrect_pos_adv_frac"] == pytest.approx(1 / 3)
    for keys in ({"shaping_lambda": 0.0}, {"skip_uniform_groups": True}):
        _, _, m = est.compute_g2rl_advantage_with_metrics(rewards, mask, index, algorithm_cfg(**keys), g2rl_phi=phi)
        assert m["g2rl/incorrect_pos_adv_frac"] == 0.0
    # only correct responses: nothing to count, no metric
    _, _, m = est.compute_g2rl_advantage_with_metrics(-rewards, mask, index, algorithm_cfg(), g2rl_phi=phi)
    assert "g2rl/incorrect_pos_adv_frac" not in m
