"""verl glue: GPPO, GPPO only-high and CE-GPPO in verl's policy-loss registry.

Registered names (none collides with a verl 0.9.1 built-in):

| loss_mode        | low branch (A<0, δ<1-ε_l)   | high branch (A>0, δ>1+ε_h) |
|------------------|-----------------------------|----------------------------|
| `gppo`           | (1-ε_l), gradient kept      | (1+ε_h), gradient kept     |
| `gppo_only_high` | (1-ε_l), no gradient        | (1+ε_h), gradient kept     |
| `ce_gppo`        | β₁(1-ε_l), gradient kept    | β₂(1+ε_h), gradient kept   |

ε_l / ε_h are verl's `actor.clip_ratio_low/high` (falling back to `clip_ratio` when null), c is
`actor.clip_ratio_c`; β₁/β₂ come from `GPPOPolicyLossConfig` (`policy_loss.gppo_beta1/2`).

Depends on verl 0.9.1 internals: the policy-loss calling convention of
`verl.workers.utils.losses.ppo_loss` (keyword arguments, `rollout_is_weights=`), `agg_loss` with
`config.global_batch_info`, `verl.utils.torch_functional.masked_mean`, and
`core_algos.POLICY_LOSS_REGISTRY` (whose decorator overwrites silently, hence our guard).
"""

from __future__ import annotations

from typing import Any

import torch
import verl.utils.torch_functional as verl_F
from verl.trainer.ppo.core_algos import POLICY_LOSS_REGISTRY, agg_loss

from g2rl_verl.gppo.config import GPPO_CONFIG_HINT, check_betas, check_clip_params, clip_params
from g2rl_verl.gppo.token_loss import gppo_token_loss
from g2rl_verl.names import GENERAL_BETA_LOSS, GPPO_LOSS_NAMES
from g2rl_verl.registry_guard import register_once


def _gppo_policy_loss(
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    loss_agg_mode: str,
    config,
    rollout_is_weights: torch.Tensor | None,
    *,
    beta_low: float,
    beta_high: float,
    only_high: bool,
) -> tuple[torch.Tensor, dict[str, Any]]:
    if config is None:
        raise ValueError("GPPO losses need the actor config (verl passes it as `config=`)")
    eps_low, eps_high, clip_c = clip_params(config)
    check_clip_params(eps_low, eps_high, clip_c)

    out = gppo_token_loss(
        log_prob,
        old_log_prob,
        advantages,
        eps_low=eps_low,
        eps_high=eps_high,
        clip_c=clip_c,
        beta_low=beta_low,
        beta_high=beta_high,
        only_high=only_high,
    )
    loss_mat = out.loss  # [B, T]
    if rollout_is_weights is not None:
        loss_mat = loss_mat * rollout_is_weights  # [B, T]

    # Always the global normaliser: without global_batch_info agg_loss would silently fall back to
    # per-micro-batch normalisation.
    pg_loss = agg_loss(
        loss_mat=loss_mat, loss_mask=response_mask, loss_agg_mode=loss_agg_mode, **config.global_batch_info
    )

    def frac(mask: torch.Tensor) -> float:
        return verl_F.masked_mean(mask.float(), response_mask).detach().item()

    metrics = {
        "actor/pg_clipfrac": frac(out.low | out.high),
        "actor/gppo_clipfrac_low": frac(out.low),
        "actor/gppo_clipfrac_high": frac(out.high),
        "actor/pg_clipfrac_lower": frac(out.dual_clip),
        "actor/ppo_kl": verl_F.masked_mean(-out.log_ratio, response_mask).detach().item(),
    }
    return pg_loss, metrics


def compute_policy_loss_gppo(
    old_log_prob,
    log_prob,
    advantages,
    response_mask,
    loss_agg_mode: str = "token-mean",
    config=None,
    rollout_is_weights=None,
):
    """Klear-Reasoner GPPO (paper Eq. 11): Clip-Higher forward value, bounded gradient when clipped."""
    return _gppo_policy_loss(
        old_log_prob, log_prob, advantages, response_mask, loss_agg_mode, config, rollout_is_weights,
        beta_low=1.0, beta_high=1.0, only_high=False,
    )


def compute_policy_loss_gppo_only_high(
    old_log_prob,
    log_prob,
    advantages,
    response_mask,
    loss_agg_mode: str = "token-mean",
    config=None,
    rollout_is_weights=None,
):
    """GPPO keeping only the high-side gradient (Klear README "More Exploration")."""
    return _gppo_policy_loss(
        old_log_prob, log_prob, advantages, response_mask, loss_agg_mode, config, rollout_is_weights,
        beta_low=1.0, beta_high=1.0, only_high=True,
    )


def compute_policy_loss_ce_gppo(
    old_log_prob,
    log_prob,
    advantages,
    response_mask,
    loss_agg_mode: str = "token-mean",
    config=None,
    rollout_is_weights=None,
):
    """CE-GPPO / general-β GPPO (Klear App. A.2 Eq. 17/18): β₁, β₂ from `policy_loss.gppo_beta1/2`."""
    policy_loss = config.policy_loss if config is not None else None
    if policy_loss is None or not hasattr(policy_loss, "gppo_beta1"):
        raise ValueError(f"loss_mode=ce_gppo needs {GPPO_CONFIG_HINT}")
    eps_low, _, clip_c = clip_params(config)
    check_betas(GENERAL_BETA_LOSS, float(policy_loss.gppo_beta1), float(policy_loss.gppo_beta2), eps_low, clip_c)
    return _gppo_policy_loss(
        old_log_prob, log_prob, advantages, response_mask, loss_agg_mode, config, rollout_is_weights,
        beta_low=float(policy_loss.gppo_beta1), beta_high=float(policy_loss.gppo_beta2), only_high=False,
    )


POLICY_LOSSES = dict(
    zip(GPPO_LOSS_NAMES, (compute_policy_loss_gppo, compute_policy_loss_gppo_only_high, compute_policy_loss_ce_gppo))
)


def register() -> None:
    """Add our losses to verl's registry; refuses to replace a different function under our names."""
    for name, fn in POLICY_LOSSES.items():
        register_once(POLICY_LOSS_REGISTRY, name, fn, registry_name="POLICY_LOSS_REGISTRY")
