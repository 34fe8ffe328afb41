"""`GPPOPolicyLossConfig`: the validated config home of the GPPO / CE-GPPO hyperparameters.

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

KEY_PREFIX = "actor_rollout_ref.actor.policy_loss"


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
