"""Startup rules of ``algorithm.adv_estimator=g2rl``; each raises :class:`G2RLConfigError` naming the key.

The rules that the feature pass also checks at run time (fused kernels, FSDP2, bypass mode) live here
once, as ``check_*`` functions taking plain values and the exception type to raise, so the startup
validation and :mod:`g2rl_verl.g2rl.engine` share one message. Why each rule exists:
docs/verl-integration.md, section "Refused combinations".
"""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf

from g2rl_verl.g2rl.config import G2RLConfig, G2RLConfigError, get_key
from g2rl_verl.names import G2RL_ESTIMATOR

# Reward profiles whose scores lie in [-1, 1] (g2rl: 2*score01 - 1, binary: score01); `klear` gives -2.
BOUNDED_PROFILES = ("g2rl", "binary")
# verl reward managers that pass the reward function's score through unchanged (dapo only without its
# overlong penalty, checked separately).
SCORE_PRESERVING_MANAGERS = ("naive", "dapo")


def check_logits_materialised(use_fused_kernels: bool, error: type[Exception] = G2RLConfigError) -> None:
    if use_fused_kernels:
        raise error(
            "actor_rollout_ref.model.use_fused_kernels=true: fused kernels never materialise the logits, and "
            "G2RL features need the full next-token distributions p_t of the old-log-prob pass. Set "
            "actor_rollout_ref.model.use_fused_kernels=false."
        )


def check_fsdp2(strategy: Any, error: type[Exception] = G2RLConfigError) -> None:
    if strategy != "fsdp2":
        hint = " Megatron is not supported by G2RL." if strategy == "megatron" else ""
        raise error(
            f"actor_rollout_ref.actor.strategy={strategy!r}: G2RL features are computed in verl's FSDP2 engine "
            f"(g2rl_verl.g2rl.engine); FSDP1 would need the sharded lm-head gathered another way.{hint} "
            "Set actor_rollout_ref.actor.strategy=fsdp2."
        )


def check_old_log_prob_pass(bypass_mode: bool, error: type[Exception] = G2RLConfigError) -> None:
    if bypass_mode:
        raise error(
            "algorithm.rollout_correction.bypass_mode=true skips the old-log-prob pass, where G2RL computes its "
            "features from pi_old. Set algorithm.rollout_correction.bypass_mode=false."
        )


def validate_g2rl_config(algorithm_cfg: Any, actor_rollout_ref_cfg: Any) -> None:
    """The ``algorithm`` / ``actor_rollout_ref`` rules of ``adv_estimator=g2rl``.

    Does nothing when another estimator is selected (except rejecting a stray ``algorithm.g2rl.enable``).
    """
    if get_key(algorithm_cfg, "adv_estimator") != G2RL_ESTIMATOR:
        section = get_key(algorithm_cfg, "g2rl")
        if section is not None and get_key(section, "enable") is not None:
            raise G2RLConfigError(
                "algorithm.g2rl.enable is not a key: set algorithm.adv_estimator=g2rl to switch G2RL on."
            )
        return
    G2RLConfig.from_algorithm(algorithm_cfg)

    if get_key(algorithm_cfg, "use_kl_in_reward", False):
        raise G2RLConfigError(
            "algorithm.use_kl_in_reward=true with algorithm.adv_estimator=g2rl: G2RL replaces the token-level "
            "rewards by the shaped outcome reward, which would drop the KL penalty. Use the KL loss instead "
            "(actor_rollout_ref.actor.use_kl_loss=true) and set algorithm.use_kl_in_reward=false."
        )
    rollout_corr = get_key(algorithm_cfg, "rollout_correction")
    check_old_log_prob_pass(bool(get_key(rollout_corr, "bypass_mode", False)))
    check_logits_materialised(bool(get_key(get_key(actor_rollout_ref_cfg, "model"), "use_fused_kernels", False)))
    check_fsdp2(get_key(get_key(actor_rollout_ref_cfg, "actor"), "strategy"))
    n = get_key(get_key(actor_rollout_ref_cfg, "rollout"), "n", None)
    if n is not None and int(n) < 2:
        raise G2RLConfigError(
            f"actor_rollout_ref.rollout.n={n}: G2RL compares responses within a group; with one response per "
            "prompt nothing is shaped. Set actor_rollout_ref.rollout.n >= 2 (the paper uses 16)."
        )


def validate_g2rl_run(cfg: Any) -> None:
    """The whole-config rules of ``adv_estimator=g2rl``: its base reward and the trainer settings it needs."""
    if OmegaConf.select(cfg, "algorithm.adv_estimator") != G2RL_ESTIMATOR:
        return
    _check_base_reward_is_bounded(cfg)
    sync_step = OmegaConf.select(cfg, "trainer.v1.sync.parameter_sync_step", default=1)
    if sync_step is not None and int(sync_step) != 1:
        raise G2RLConfigError(
            f"trainer.v1.sync.parameter_sync_step={sync_step} with algorithm.adv_estimator=g2rl: every mini-step "
            "after the first would take G2RL's features from an actor already updated in this step, not from "
            "the policy that generated the responses. Set trainer.v1.sync.parameter_sync_step=1."
        )
    if OmegaConf.select(cfg, "algorithm.filter_groups.enable", default=False):
        raise G2RLConfigError(
            "algorithm.filter_groups.enable=true with algorithm.adv_estimator=g2rl: the filter removes the "
            "uniform groups, exactly the ones G2RL's shaping gives a learning signal. Set "
            "algorithm.filter_groups.enable=false."
        )
    if OmegaConf.select(cfg, "g2rl_verl.group_filter.enable", default=False):
        raise G2RLConfigError(
            "g2rl_verl.group_filter.enable=true with algorithm.adv_estimator=g2rl: the zero-variance group filter "
            "removes the uniform groups that G2RL's shaping gives a learning signal. Set "
            "g2rl_verl.group_filter.enable=false."
        )


def _check_base_reward_is_bounded(cfg: Any) -> None:
    """G2RL's base reward is GRPO's sequence reward; refuse every source that can leave [-1, 1]."""
    profile = OmegaConf.select(cfg, "reward.custom_reward_function.reward_kwargs.profile", default=None)
    if profile is not None and profile not in BOUNDED_PROFILES:
        raise G2RLConfigError(
            f"reward.custom_reward_function.reward_kwargs.profile={profile!r} with algorithm.adv_estimator=g2rl: "
            f"G2RL's base reward must lie in [-1, 1] and this profile can leave it (klear scores -2 for think-tag "
            f"violations). Use one of {list(BOUNDED_PROFILES)} (docs/methods.md, 'G2RL: base reward')."
        )
    manager = OmegaConf.select(cfg, "reward.reward_manager.name", default="naive")
    if manager not in SCORE_PRESERVING_MANAGERS:
        raise G2RLConfigError(
            f"reward.reward_manager.name={manager!r} with algorithm.adv_estimator=g2rl: only "
            f"{list(SCORE_PRESERVING_MANAGERS)} pass the reward function's score through unchanged, so only they "
            "keep G2RL's base reward in [-1, 1]. Set reward.reward_manager.name=naive."
        )
    if manager == "dapo" and OmegaConf.select(cfg, "reward.reward_kwargs.overlong_buffer_cfg.enable", default=False):
        raise G2RLConfigError(
            "reward.reward_manager.name=dapo with reward.reward_kwargs.overlong_buffer_cfg.enable=true and "
            "algorithm.adv_estimator=g2rl: the overlong penalty pushes the base reward below -1. Disable the "
            "overlong buffer or use reward.reward_manager.name=naive."
        )
    if OmegaConf.select(cfg, "reward.reward_model.enable", default=False):
        raise G2RLConfigError(
            "reward.reward_model.enable=true with algorithm.adv_estimator=g2rl: a reward model's score is not "
            "bounded to [-1, 1], which G2RL's base reward needs. Set reward.reward_model.enable=false."
        )
