"""Startup validation of a composed g2rl-verl / verl config, before Ray starts.

verl checks the estimator name at the first advantage step and the loss name at the first actor
update, minutes into a run and inside a Ray worker. `validate_config` checks everything we add (and
the verl keys our methods depend on) on the driver and raises `ConfigError` naming the key.
"""

from __future__ import annotations

import math

from omegaconf import DictConfig, OmegaConf

from g2rl_verl.names import G2RL_ESTIMATOR, GPPO_CONFIG_TARGET, GPPO_LOSS_NAMES, REWARD_ROUTER_PATH

# Our task runner builds verl's v1 sync trainer (our subclass), nothing else.
SUPPORTED_TRAINER_MODE = "sync"


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
    from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY, POLICY_LOSS_REGISTRY

    import g2rl_verl.plugin  # noqa: F401  (the registrations, loudly)

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


def validate_trainer_mode(cfg: DictConfig) -> None:
    """Our entry point runs verl's v1 sync trainer only; any other trainer would be silently replaced."""
    if _get(cfg, "trainer.use_v1", True) is not True:
        raise ConfigError(
            f"trainer.use_v1={_get(cfg, 'trainer.use_v1')!r}: python -m g2rl_verl.main runs verl's v1 trainer only "
            "(its legacy trainer would be silently replaced). Set trainer.use_v1=true, or launch verl's own "
            "python -m verl.trainer.main_ppo for the legacy trainer (without g2rl_verl's trainer features)."
        )
    mode = _get(cfg, "trainer.v1.trainer_mode", SUPPORTED_TRAINER_MODE)
    if mode != SUPPORTED_TRAINER_MODE:
        raise ConfigError(
            f"trainer.v1.trainer_mode={mode!r}: python -m g2rl_verl.main runs verl's v1 sync trainer only; the "
            "async trainers' replay and parameter sync are not combined with our trainer's steps. Set "
            f"trainer.v1.trainer_mode={SUPPORTED_TRAINER_MODE} (docs/verl-integration.md, 'Trainer modes')."
        )
    custom = _get(cfg, "trainer.v1.sampler.custom_sampler.path")
    if custom and _get(cfg, "g2rl_verl.group_filter.enable", False):
        raise ConfigError(
            "g2rl_verl.group_filter.enable=true with trainer.v1.sampler.custom_sampler.path set: the group filter "
            "is our replay buffer; drop one of the two."
        )


def validate_group_filter(cfg: DictConfig) -> None:
    """`g2rl_verl.group_filter.*`: Klear's zero-variance group filter (no top-up)."""
    from g2rl_verl.group_filter import GroupFilterConfig

    try:
        section = GroupFilterConfig.from_config(cfg)
    except ValueError as error:
        raise ConfigError(str(error)) from error
    if section.enable and _get(cfg, "algorithm.filter_groups.enable", False):
        raise ConfigError(
            "g2rl_verl.group_filter.enable=true and algorithm.filter_groups.enable=true: choose one zero-variance "
            "filter (ours: no top-up, Klear's semantics; verl's: tops up, DAPO's semantics)."
        )


def validate_gppo(cfg: DictConfig) -> None:
    from g2rl_verl.gppo.config import check_betas, check_clip_params
    from g2rl_verl.gppo.positive_nll import validate_positive_nll

    actor = "actor_rollout_ref.actor"
    loss_mode = _get(cfg, f"{actor}.policy_loss.loss_mode", "vanilla")
    target = _get(cfg, f"{actor}.policy_loss._target_")
    nll = _get(cfg, f"{actor}.policy_loss.positive_nll_coef")
    uses_ours = loss_mode in GPPO_LOSS_NAMES or (nll is not None and nll != 0)
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
    c = _number(cfg, f"{actor}.clip_ratio_c")
    beta1 = _number(cfg, f"{actor}.policy_loss.gppo_beta1", low=0.0)
    beta2 = _number(cfg, f"{actor}.policy_loss.gppo_beta2", low=0.0)
    _number(cfg, f"{actor}.policy_loss.positive_nll_coef", low=0.0)
    try:
        check_clip_params(eps_low, eps_high, c)
        check_betas(loss_mode, beta1, beta2, eps_low, c)
        validate_positive_nll(cfg)
    except ValueError as error:
        raise ConfigError(str(error)) from error


def validate_g2rl(cfg: DictConfig) -> None:
    """G2RL keys and the verl settings it depends on (the rules live in g2rl_verl.g2rl.validation)."""
    from g2rl_verl.g2rl.config import G2RLConfigError
    from g2rl_verl.g2rl.validation import validate_g2rl_config, validate_g2rl_run

    try:
        validate_g2rl_config(_get(cfg, "algorithm"), _get(cfg, "actor_rollout_ref"))
        validate_g2rl_run(cfg)
    except G2RLConfigError as error:
        raise ConfigError(str(error)) from error
    if _get(cfg, "algorithm.adv_estimator") != G2RL_ESTIMATOR:
        return
    if _get(cfg, "reward.custom_reward_function.path") != REWARD_ROUTER_PATH:
        raise ConfigError(
            "adv_estimator=g2rl reads each sample's `valid` flag from our reward router's results: set "
            f"reward.custom_reward_function.path={REWARD_ROUTER_PATH}"
        )


def validate_config(cfg: DictConfig) -> None:
    """Validate a composed config; raises ConfigError naming the key."""
    validate_trainer_mode(cfg)
    validate_names(cfg)
    validate_group_filter(cfg)
    validate_gppo(cfg)
    validate_g2rl(cfg)
