"""Startup validation of a composed g2rl-verl / verl config, before Ray starts.

verl checks the estimator name at the first advantage step and the loss name at the first actor
update, minutes into a run and inside a Ray worker. `validate_config` checks everything we add (and
the verl keys our methods depend on) on the driver and raises `ConfigError` naming the key.
"""

from __future__ import annotations

import math

from omegaconf import DictConfig, OmegaConf

GPPO_LOSSES = ("gppo", "gppo_only_high", "ce_gppo")
GPPO_CONFIG_TARGET = "g2rl_verl.gppo.config.GPPOPolicyLossConfig"
REWARD_ROUTER_PATH = "pkg://g2rl_verl.rewards.router"


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key and the fix."""


def _get(cfg: DictConfig, key: str, default=None):
    return OmegaConf.select(cfg, key, default=default)


def _number(cfg, key: str, *, low=None, high=None, low_open=False, allow_none=False):
    value = _get(cfg, key)
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(float(value)):
        raise ConfigError(f"{key} must be a finite number, got {value!r}")
    value = float(value)
    if low is not None and (value <= low if low_open else value < low):
        raise ConfigError(f"{key}={value} is out of range: must be {'>' if low_open else '>='} {low}")
    if high is not None and value > high:
        raise ConfigError(f"{key}={value} is out of range: must be <= {high}")
    return value


def validate_names(cfg: DictConfig) -> None:
    """The configured loss and estimator names resolve in verl's registries (plugin loaded)."""
    import g2rl_verl.plugin  # noqa: F401  (the registrations, loudly)
    from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY, POLICY_LOSS_REGISTRY

    loss_mode = _get(cfg, "actor_rollout_ref.actor.policy_loss.loss_mode", "vanilla")
    if loss_mode not in POLICY_LOSS_REGISTRY:
        raise ConfigError(
            f"actor_rollout_ref.actor.policy_loss.loss_mode={loss_mode!r} is not a registered policy loss; "
            f"known: {sorted(POLICY_LOSS_REGISTRY)}"
        )
    estimator = _get(cfg, "algorithm.adv_estimator")
    if estimator not in ADV_ESTIMATOR_REGISTRY and estimator not in ("gae", "grpo"):
        raise ConfigError(
            f"algorithm.adv_estimator={estimator!r} is not a registered advantage estimator; "
            f"known: {sorted(set(ADV_ESTIMATOR_REGISTRY) | {'gae', 'grpo'})}"
        )


def validate_gppo(cfg: DictConfig) -> None:
    actor = "actor_rollout_ref.actor"
    loss_mode = _get(cfg, f"{actor}.policy_loss.loss_mode", "vanilla")
    target = _get(cfg, f"{actor}.policy_loss._target_")
    nll = _get(cfg, f"{actor}.policy_loss.positive_nll_coef")
    uses_ours = loss_mode in GPPO_LOSSES or (nll is not None and nll != 0)
    if not uses_ours:
        return
    if target != GPPO_CONFIG_TARGET:
        raise ConfigError(
            f"{actor}.policy_loss._target_={target!r}: loss_mode={loss_mode} / positive_nll_coef need "
            f"{GPPO_CONFIG_TARGET} (launch with python -m g2rl_verl.main, whose config sets it)"
        )
    clip = _number(cfg, f"{actor}.clip_ratio", low=0.0)
    eps_low = _number(cfg, f"{actor}.clip_ratio_low", low=0.0, allow_none=True)
    eps_high = _number(cfg, f"{actor}.clip_ratio_high", low=0.0, allow_none=True)
    eps_low = clip if eps_low is None else eps_low
    eps_high = clip if eps_high is None else eps_high
    if eps_low >= 1.0:
        raise ConfigError(f"{actor}.clip_ratio_low={eps_low} must be < 1")
    c = _number(cfg, f"{actor}.clip_ratio_c")
    if c <= 1.0 + eps_high:
        raise ConfigError(
            f"{actor}.clip_ratio_c={c} must be > 1 + clip_ratio_high = {1.0 + eps_high} (Klear-Reasoner uses 10.0)"
        )
    beta1 = _number(cfg, f"{actor}.policy_loss.gppo_beta1", low=0.0)
    beta2 = _number(cfg, f"{actor}.policy_loss.gppo_beta2", low=0.0)
    _number(cfg, f"{actor}.policy_loss.positive_nll_coef", low=0.0)
    if loss_mode in ("gppo", "gppo_only_high") and (beta1 != 1.0 or beta2 != 1.0):
        raise ConfigError(
            f"{actor}.policy_loss.gppo_beta1/gppo_beta2 = {beta1}/{beta2} have no effect with loss_mode={loss_mode}; "
            "use loss_mode=ce_gppo for the general-β form, or leave both at 1.0"
        )
    if loss_mode == "ce_gppo" and beta1 * (1.0 - eps_low) >= c:
        raise ConfigError(
            f"{actor}.policy_loss.gppo_beta1={beta1}: β₁(1-clip_ratio_low) must stay below clip_ratio_c={c}, "
            "otherwise the dual clip binds inside the preserved low region"
        )
    if nll and _get(cfg, "reward.custom_reward_function.path") != REWARD_ROUTER_PATH:
        raise ConfigError(
            f"{actor}.policy_loss.positive_nll_coef={nll} needs per-sample `acc` from our reward router: "
            f"set reward.custom_reward_function.path={REWARD_ROUTER_PATH}"
        )


def validate_g2rl(cfg: DictConfig) -> None:
    """G2RL keys and the verl settings it depends on (the per-key rules live with the estimator)."""
    from g2rl_verl.g2rl_estimator import G2RLConfigError, validate_g2rl_config

    try:
        validate_g2rl_config(_get(cfg, "algorithm"), _get(cfg, "actor_rollout_ref"))
    except G2RLConfigError as error:
        raise ConfigError(str(error)) from error
    if _get(cfg, "algorithm.adv_estimator") != "g2rl":
        return
    if _get(cfg, "reward.custom_reward_function.path") != REWARD_ROUTER_PATH:
        raise ConfigError(
            "adv_estimator=g2rl reads the base reward r = 2*score01 - 1 from our reward router's results: set "
            f"reward.custom_reward_function.path={REWARD_ROUTER_PATH}"
        )
    if _get(cfg, "trainer.use_v1", True) is not True or _get(cfg, "trainer.v1.trainer_mode", "sync") != "sync":
        raise ConfigError(
            "adv_estimator=g2rl runs on verl's v1 sync trainer: set trainer.use_v1=true, trainer.v1.trainer_mode=sync"
        )


def validate_config(cfg: DictConfig) -> None:
    """Validate a composed config; raises ConfigError naming the key."""
    validate_names(cfg)
    validate_gppo(cfg)
    validate_g2rl(cfg)
