"""Per-token GPPO / CE-GPPO loss, in minimisation form (docs/methods.md, "GPPO").

Pure torch: no verl types, so the maths can be tested alone. verl glue lives in `policy_loss.py`.

For ratio δ = π_θ/π_old and advantage A (both per token), with g = δ/sg(δ) (value 1, gradient path
through log π_θ):

    L = -A·δ                                   default region
    L = -A·β_low ·(1-ε_low) ·g                 "low":  A < 0 and δ < 1-ε_low   (only_high: -A·(1-ε_low), no gradient)
    L = -A·β_high·(1+ε_high)·g                 "high": A > 0 and δ > 1+ε_high
    L = min(L, -A·c)                           dual clip, only where A < 0 (constant, so zero gradient)

With β_low = β_high = 1 the forward value equals PPO with Clip-Higher (DAPO) and dual clip; only the
gradient differs: clipped tokens keep weight (1-ε_low) / (1+ε_high) instead of 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# Same guard as verl's vanilla loss, so forward values stay comparable at extreme ratios.
LOG_RATIO_CLAMP = 20.0


@dataclass(frozen=True)
class GPPOTokenLoss:
    """Per-token loss and the region masks that produced it; every tensor is [B, T]."""

    loss: torch.Tensor  # [B, T] float, minimisation form
    log_ratio: torch.Tensor  # [B, T] clamped log δ (carries gradient)
    low: torch.Tensor  # [B, T] bool, A < 0 and δ < 1-ε_low (gradient-preserving low region)
    high: torch.Tensor  # [B, T] bool, A > 0 and δ > 1+ε_high (gradient-preserving high region)
    dual_clip: torch.Tensor  # [B, T] bool, A < 0 and the -A·c cap binds (zero gradient)


def gppo_token_loss(
    log_prob: torch.Tensor,
    old_log_prob: torch.Tensor,
    advantages: torch.Tensor,
    *,
    eps_low: float,
    eps_high: float,
    clip_c: float,
    beta_low: float = 1.0,
    beta_high: float = 1.0,
    only_high: bool = False,
) -> GPPOTokenLoss:
    """GPPO (β=1), CE-GPPO (general β) or only-high per-token loss.

    Args:
        log_prob: [B, T] log π_θ(a_t|s_t), requires grad.
        old_log_prob: [B, T] log π_old(a_t|s_t).
        advantages: [B, T] Ã, broadcast per response.
        eps_low, eps_high: clip widths ε_l, ε_h (verl's clip_ratio_low / clip_ratio_high).
        clip_c: dual-clip constant c (> 1 + eps_high).
        beta_low, beta_high: CE-GPPO scale of the low / high clipped branches.
        only_high: the low bound becomes the constant (1-ε_low): Clip-Higher value, zero gradient.
    """
    log_ratio = torch.clamp(log_prob - old_log_prob, -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)  # [B, T]
    ratio = torch.exp(log_ratio)  # [B, T]
    grad_carrier = ratio / ratio.detach()  # [B, T], value exactly 1, d/dlogπ = 1

    low = (ratio < 1.0 - eps_low) & (advantages < 0)  # [B, T]
    high = (ratio > 1.0 + eps_high) & (advantages > 0)  # [B, T]

    loss = -advantages * ratio  # [B, T] default region: F = δ
    low_branch = torch.ones_like(ratio) if only_high else grad_carrier  # [B, T]
    loss = torch.where(low, -advantages * (beta_low * (1.0 - eps_low)) * low_branch, loss)  # [B, T]
    loss = torch.where(high, -advantages * (beta_high * (1.0 + eps_high)) * grad_carrier, loss)  # [B, T]

    cap = -advantages * clip_c  # [B, T], > 0 where A < 0
    dual_clip = (advantages < 0) & (loss > cap)  # [B, T]
    # torch.where picks the constant cap, so the gradient there is exactly 0.
    loss = torch.where(dual_clip, cap, loss)  # [B, T]

    return GPPOTokenLoss(loss=loss, log_ratio=log_ratio, low=low, high=high, dual_clip=dual_clip)
