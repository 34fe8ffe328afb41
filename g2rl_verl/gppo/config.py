"""`GPPOPolicyLossConfig` and the one home of the GPPO / CE-GPPO clip and beta rules.

The rules (`clip_params`, `check_clip_params`, `check_betas`) are used by startup validation
(`g2rl_verl.validation`) and again by the losses at run time (`g2rl_verl.gppo.policy_loss`).

verl's config dataclasses reject unknown keys, so the extra hyperparameters cannot be added to
`actor_rollout_ref.actor.policy_loss` directly. Our shipped YAML points
`actor_rollout_ref.actor.policy_loss._target_` at this subclass; verl's `omega_conf_to_dataclass`
(Hydra `instantiate`) then builds it inside `ActorConfig`, and the loss reads it from
`config.policy_loss`. Hydra overrides set the fields without a `+`.

Depends on verl 0.9.1 internals: `verl.workers.config.PolicyLossConfig` (a `BaseConfig` dataclass).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from verl.workers.config import PolicyLossConfig

from g2rl_verl.names import GENERAL_BETA_LOSS, GPPO_CONFIG_TARGET, GPPO_LOSS_NAMES

ACTOR_KEY = "actor_rollout_ref.actor"
KEY_PREFIX = f"{ACTOR_KEY}.policy_loss"
GPPO_CONFIG_HINT = (
    f"{KEY_PREFIX}._target_={GPPO_CONFIG_TARGET} (set in g2rl_verl/config/g2rl_trainer.yaml; "
    "launch with python -m g2rl_verl.main)"
)


def clip_params(actor_config) -> tuple[float, float, float]:
    """(ε_low, ε_high, c) from an ActorConfig or the `actor` DictConfig, with verl's null fallback to
    `clip_ratio` and its default c = 3."""
    eps = actor_config.clip_ratio
    eps_low = actor_config.clip_ratio_low if actor_config.clip_ratio_low is not None else eps
    eps_high = actor_config.clip_ratio_high if actor_config.clip_ratio_high is not None else eps
    clip_c = actor_config.get("clip_ratio_c", 3.0)
    return float(eps_low), float(eps_high), float(clip_c)


def check_clip_params(eps_low: float, eps_high: float, clip_c: float) -> None:
    """Raise ValueError naming the key when the clip widths cannot define GPPO."""
    if not 0.0 <= eps_low < 1.0:
        raise ValueError(f"{ACTOR_KEY}.clip_ratio_low={eps_low} must be in [0, 1)")
    if eps_high < 0.0:
        raise ValueError(f"{ACTOR_KEY}.clip_ratio_high={eps_high} must be >= 0")
    if not clip_c > 1.0 + eps_high:
        # Otherwise the dual clip would cut into the preserved high region (docs/methods.md, "GPPO").
        raise ValueError(
            f"{ACTOR_KEY}.clip_ratio_c={clip_c} must be > 1 + clip_ratio_high = {1.0 + eps_high} "
            "(Klear-Reasoner uses 10.0)"
        )


def check_betas(loss_mode: str, beta1: float, beta2: float, eps_low: float, clip_c: float) -> None:
    """Raise ValueError naming the key when β₁ / β₂ are set where they do nothing or break the dual clip."""
    if loss_mode in GPPO_LOSS_NAMES and loss_mode != GENERAL_BETA_LOSS and (beta1 != 1.0 or beta2 != 1.0):
        raise ValueError(
            f"{KEY_PREFIX}.gppo_beta1/gppo_beta2 = {beta1}/{beta2} have no effect with loss_mode={loss_mode}; "
            f"use loss_mode={GENERAL_BETA_LOSS} for the general-β form, or leave both at 1.0"
        )
    if loss_mode == GENERAL_BETA_LOSS and beta1 * (1.0 - eps_low) >= clip_c:
        raise ValueError(
            f"{KEY_PREFIX}.gppo_beta1={beta1}: β₁(1-clip_ratio_low) must stay below clip_ratio_c={clip_c}, "
            "otherwise the dual clip binds inside the preserved low region"
        )


@dataclass
class GPPOPolicyLossConfig(PolicyLossConfig):
    """verl's `PolicyLossConfig` plus the GPPO fields.

    Args:
        gppo_beta1: β₁, CE-GPPO scale of the low clipped branch (A<0, δ<1-ε_low). Only used by
            `loss_mode=ce_gppo`. Paper values: 1.0 (Klear-Reasoner-8B), 0.5 (CE-GPPO 1.5B script),
            0.75 (CE-GPPO 7B script), 0.25 (Klear general-β script).
        gppo_beta2: β₂, CE-GPPO scale of the high clipped branch (A>0, δ>1+ε_high). Paper value 1.0.
        positive_nll_coef: α, weight of the token-mean NLL over positive (fully correct) responses
            (Klear-Reasoner Eq. 8/13). Paper value 0.1; 0 disables the term.
    """

    gppo_beta1: float = 1.0
    gppo_beta2: float = 1.0
    positive_nll_coef: float = 0.0

    def __post_init__(self):
        parent_post_init = getattr(super(), "__post_init__", None)
        if parent_post_init is not None:  # PolicyLossConfig has none in 0.9.1; keep future checks
            parent_post_init()
        for name in ("gppo_beta1", "gppo_beta2", "positive_nll_coef"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{KEY_PREFIX}.{name} must be a finite number, got {value!r}")
            if value < 0:
                raise ValueError(
                    f"{KEY_PREFIX}.{name}={value} is out of range: it must be >= 0 "
                    "(a negative scale flips the sign of the clipped tokens' gradient)"
                )
