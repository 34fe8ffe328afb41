"""Our shipped config composes with verl's, the β fields reach the loss, and bad values fail at startup
with a message naming the key."""

import subprocess
import sys

import pytest
import torch
from verl.trainer.ppo.core_algos import get_policy_loss_fn
from verl.utils.config import omega_conf_to_dataclass

from g2rl_verl.gppo.config import GPPOPolicyLossConfig
from g2rl_verl.validation import ConfigError, validate_config

GPPO = ["actor_rollout_ref.actor.policy_loss.loss_mode=gppo", "actor_rollout_ref.actor.clip_ratio_c=10.0"]
G2RL = ["algorithm.adv_estimator=g2rl", "actor_rollout_ref.rollout.n=4"]


def test_composes_with_verl_defaults_and_our_keys(compose_config):
    cfg = compose_config()
    assert cfg.actor_rollout_ref.actor.policy_loss._target_ == "g2rl_verl.gppo.config.GPPOPolicyLossConfig"
    assert cfg.algorithm.g2rl.shaping_lambda == 0.5 and cfg.algorithm.g2rl.reward_clip == 3.0
    assert cfg.reward.custom_reward_function.path == "pkg://g2rl_verl.rewards.router"
    assert cfg.trainer.use_v1 is True  # verl's own defaults are underneath
    validate_config(cfg)


def test_beta_fields_reach_the_loss_as_our_config_subclass(compose_config):
    cfg = compose_config(
        [
            "actor_rollout_ref.actor.policy_loss.loss_mode=ce_gppo",
            "actor_rollout_ref.actor.policy_loss.gppo_beta1=0.5",
            "actor_rollout_ref.actor.clip_ratio_low=0.2",
            "actor_rollout_ref.actor.clip_ratio_high=0.28",
            "actor_rollout_ref.actor.clip_ratio_c=10.0",
            "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=1",
            "actor_rollout_ref.rollout.n=1",
        ]
    )
    validate_config(cfg)
    actor = omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)  # what verl's worker does
    assert type(actor.policy_loss) is GPPOPolicyLossConfig
    assert actor.policy_loss.gppo_beta1 == 0.5
    # The composed config drives the loss: low-region token (δ=0.5, A=-1) gets F = β₁(1-ε_l) = 0.4.
    log_prob = torch.log(torch.tensor([[0.5]])).requires_grad_()
    loss, _ = get_policy_loss_fn("ce_gppo")(
        old_log_prob=torch.zeros(1, 1), log_prob=log_prob, advantages=-torch.ones(1, 1),
        response_mask=torch.ones(1, 1, dtype=torch.bool), loss_agg_mode="token-mean", config=actor,
        rollout_is_weights=None,
    )
    loss.backward()
    assert log_prob.grad.item() == pytest.approx(0.4)


@pytest.mark.parametrize(
    "overrides,key",
    [
        (["actor_rollout_ref.actor.policy_loss.loss_mode=gppo_typo"], "policy_loss.loss_mode"),
        (["algorithm.adv_estimator=g2rl_typo"], "algorithm.adv_estimator"),
        (GPPO[:1] + ["actor_rollout_ref.actor.policy_loss.loss_mode=ce_gppo",
                     "actor_rollout_ref.actor.policy_loss.gppo_beta1=-0.5", GPPO[1]], "policy_loss.gppo_beta1"),
        (GPPO + ["actor_rollout_ref.actor.clip_ratio_low=-0.1"], "actor_rollout_ref.actor.clip_ratio_low"),
        (GPPO + ["actor_rollout_ref.actor.clip_ratio_high=-0.2"], "actor_rollout_ref.actor.clip_ratio_high"),
        (GPPO[:1], "actor_rollout_ref.actor.clip_ratio_c"),  # verl's default c=3 is fine, but ...
        (GPPO + ["actor_rollout_ref.actor.policy_loss.gppo_beta1=0.25"], "gppo_beta1/gppo_beta2"),
        (GPPO + ["actor_rollout_ref.actor.policy_loss.positive_nll_coef=-0.1"], "positive_nll_coef"),
        (G2RL + ["algorithm.g2rl.shaping_mode=eq13"], "algorithm.g2rl.shaping_mode"),
        (G2RL + ["actor_rollout_ref.model.use_fused_kernels=true"], "use_fused_kernels"),
        (G2RL + ["actor_rollout_ref.actor.strategy=megatron"], "actor_rollout_ref.actor.strategy"),
        (G2RL + ["+algorithm.g2rl.lamda=0.5"], "algorithm.g2rl.lamda"),
        (G2RL + ["actor_rollout_ref.actor.strategy=fsdp"], "strategy"),
        (G2RL + ["reward.custom_reward_function.path=pkg://my.rewards"], "custom_reward_function"),
    ],
)
def test_bad_config_fails_naming_the_key(compose_config, overrides, key):
    if overrides == GPPO[:1]:
        overrides = GPPO[:1] + ["actor_rollout_ref.actor.clip_ratio_high=2.5"]  # c=3 <= 1 + 2.5
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate_config(compose_config(overrides))


def test_entry_point_dry_run_validates_g2rl_config(tmp_path):
    common = [
        *G2RL,
        "actor_rollout_ref.actor.policy_loss.loss_mode=gppo",
        "actor_rollout_ref.actor.clip_ratio_c=10.0",
        "actor_rollout_ref.model.path=/nonexistent/model",
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=1",
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=1",
        f"hydra.run.dir={tmp_path}",
    ]
    cfg_job = subprocess.run([sys.executable, "-m", "g2rl_verl.main", "--cfg", "job", *common],
                             capture_output=True, text=True, timeout=300)
    assert cfg_job.returncode == 0, cfg_job.stderr[-2000:]
    assert "adv_estimator: g2rl" in cfg_job.stdout
    dry = subprocess.run([sys.executable, "-m", "g2rl_verl.main", "g2rl_verl.dry_run=true", *common],
                         capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "config validated" in dry.stdout
    bad = subprocess.run([sys.executable, "-m", "g2rl_verl.main", "g2rl_verl.dry_run=true", *common,
                          "actor_rollout_ref.model.use_fused_kernels=true"], capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "use_fused_kernels" in bad.stderr
