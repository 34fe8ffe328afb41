"""G2RL reward shaping and its diagnostics (pure torch, no verl types).

Equations and every decision beyond the paper: docs/methods.md, section "G2RL: shaping". The verl
glue that feeds it is :mod:`g2rl_verl.g2rl.estimator`.

Per group of responses to one prompt, over the members that take part:

    S_ij   = <Phi_i/(|Phi_i|+eps), Phi_j/(|Phi_j|+eps)>
    w_ij   = exp(r_j) [j != i] / (sum_{k != i} exp(r_k) + eps)
    nu_i   = max(1 - sum_j w_ij S_ij^2, 0)
    nubar  = (nu - min nu) / (max nu - min nu + eps)
    eq12:  r~ = clip(r (1 + lam r nubar), -c, c)        prose: r~ = clip(r (1 + lam (2 nubar - 1)), -c, c)

Every group is handled at once on padded [G, M, ...] tensors (G groups, M = largest group); the
group computations run in float64.

Decisions (documented in :func:`compute_shaping` and docs/methods.md):
- a member "takes part" when its reward is valid and its feature is non-zero (an empty response has
  Phi = 0, which has no direction); members that do not take part keep r~ = clip(r);
- a group whose nu range is at most ``tie_tol`` (float noise from the eps terms; identical features
  give a range of about 1e-9) counts as max = min: nubar = 0 and no shaping, r~ = clip(r), in both
  modes (in `prose` mode nubar = 0 alone would give r(1 - lam)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

SHAPING_MODES = ("eq12", "prose")
BASE_REWARD_MAPPINGS = ("affine", "identity")

# ---------------------------------------------------------------------------------------------
# Groups
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupLayout:
    """Where each of B samples sits in a padded [G, M] grid of groups (first-appearance order)."""

    group: torch.Tensor  # [B] int64 group number
    slot: torch.Tensor  # [B] int64 position inside its group
    n_groups: int
    max_size: int

    @staticmethod
    def from_ids(group_ids: Sequence[Any], device: torch.device | str = "cpu") -> GroupLayout:
        codes: dict[Any, int] = {}
        group_list = [codes.setdefault(g, len(codes)) for g in group_ids]  # one pass over samples
        group = torch.tensor(group_list, dtype=torch.long, device=device)  # [B]
        n_groups = len(codes)
        if group.numel() == 0:
            return GroupLayout(group, group.clone(), 0, 0)
        sizes = torch.bincount(group, minlength=n_groups)  # [G]
        order = torch.argsort(group, stable=True)  # [B]
        starts = torch.cumsum(sizes, 0) - sizes  # [G]
        slot = torch.empty_like(group)  # [B]
        slot[order] = torch.arange(group.numel(), device=device) - starts[group[order]]
        return GroupLayout(group, slot, n_groups, int(sizes.max()))

    def scatter(self, values: torch.Tensor, fill: float | bool = 0) -> torch.Tensor:
        """[B, ...] -> [G, M, ...], padding with ``fill``."""
        out = torch.full(
            (self.n_groups, self.max_size, *values.shape[1:]), fill, dtype=values.dtype, device=values.device
        )  # [G, M, ...]
        out[self.group, self.slot] = values
        return out

    def gather(self, grid: torch.Tensor) -> torch.Tensor:
        """[G, M, ...] -> [B, ...]."""
        return grid[self.group, self.slot]


def cosine_matrices(features: torch.Tensor, layout: GroupLayout, eps: float = 1e-8) -> torch.Tensor:
    """S [G, M, M] float64: cosines of unit-normalised features inside each group (Eq. 9)."""
    phi = features.to(torch.float64)  # [B, d]
    unit = phi / (phi.norm(dim=1, keepdim=True) + eps)  # [B, d]
    grid = layout.scatter(unit)  # [G, M, d], zero rows for padding
    return grid @ grid.transpose(1, 2)  # [G, M, M]


# ---------------------------------------------------------------------------------------------
# Shaping
# ---------------------------------------------------------------------------------------------


def base_rewards(scores: torch.Tensor, mapping: str = "affine") -> torch.Tensor:
    """Base reward r [B] float64 from scores: ``affine`` r = 2*score - 1 (scores in [0, 1]) or
    ``identity`` r = score. Raises if any r is outside [-1, 1] or not finite, naming the sample."""
    scores = torch.as_tensor(scores).detach().to("cpu", torch.float64)  # [B] (group maths runs on CPU)
    if mapping == "affine":
        r = 2.0 * scores - 1.0  # [B]
    elif mapping == "identity":
        r = scores.clone()  # [B]
    else:
        raise ValueError(f"unknown base reward mapping {mapping!r}; expected one of {BASE_REWARD_MAPPINGS}")
    bad = ~torch.isfinite(r) | (r.abs() > 1.0)  # [B]
    if bad.any():
        i = int(torch.nonzero(bad)[0])
        raise ValueError(
            f"G2RL base reward r = {r[i].item()} of sample {i} (score {scores[i].item()}, mapping {mapping!r}) "
            f"is outside [-1, 1] ({int(bad.sum())} such samples). G2RL's base reward is the sequence reward GRPO "
            "uses and must lie in [-1, 1]: the `klear` reward profile (-2 for think-tag violations), verl's `dapo` "
            "overlong penalty and reward models can leave that range; use reward_kwargs.profile=g2rl or binary. "
            "See docs/methods.md, section 'G2RL: base reward'."
        )
    return r


@dataclass(frozen=True)
class ShapingResult:
    """Per-sample ([B]) and per-group ([G]) quantities of one shaping call; float64 tensors."""

    base: torch.Tensor  # [B] r
    shaped: torch.Tensor  # [B] r~ (before GRPO standardisation)
    nu: torch.Tensor  # [B] exploration score; 0 for members that do not take part
    nu_bar: torch.Tensor  # [B] in-group min-max of nu; 0 where no shaping
    takes_part: torch.Tensor  # [B] bool: valid reward and non-zero feature
    valid: torch.Tensor  # [B] bool: valid reward
    shaping_applied: torch.Tensor  # [B] bool
    group: torch.Tensor  # [B] int64 group number
    uniform_group: torch.Tensor  # [G] bool: all valid base rewards equal
    skipped_group: torch.Tensor  # [G] bool: uniform and skip_uniform_groups
    group_has_valid: torch.Tensor  # [G] bool
    clip: float


def compute_shaping(
    scores: torch.Tensor,
    features: torch.Tensor,
    group_ids: Sequence[Any],
    *,
    valid: torch.Tensor | None = None,
    lam: float = 0.5,
    mode: str = "eq12",
    clip: float = 3.0,
    skip_uniform_groups: bool = False,
    eps: float = 1e-8,
    base_reward: str = "affine",
    tie_tol: float = 1e-6,
) -> ShapingResult:
    """Shaped rewards and the intermediate quantities, for every group of a batch at once.

    Args:
        scores: [B] correctness scores (in [0, 1] for the ``affine`` base mapping).
        features: [B, d] Phi.
        group_ids: length-B sequence of hashable group ids (verl's ``uid``).
        valid: [B] bool/0-1, False for infrastructure failures (excluded from peers and min-max; they
            keep r~ = clip(r)). None means all valid.
        lam, mode, clip, skip_uniform_groups, eps: ``algorithm.g2rl.*`` (docs/methods.md, "G2RL: shaping").
        base_reward: ``affine`` (r = 2*score - 1) or ``identity`` (r = score).
        tie_tol: nu ranges at or below this count as max = min (no shaping), see the module docstring.

    Edge cases (docs/methods.md, "G2RL: edge cases"): a member alone in its group (or the only one taking part) has nu = 1,
    nubar = 0, r~ = r; a zero feature (empty response) does not take part.
    """
    if mode not in SHAPING_MODES:
        raise ValueError(f"unknown shaping mode {mode!r}; expected one of {SHAPING_MODES}")
    if not (math.isfinite(lam) and lam >= 0):
        raise ValueError(f"shaping lambda must be a finite number >= 0, got {lam}")
    if not (clip > 0):
        raise ValueError(f"reward clip c must be > 0, got {clip}")
    if not (eps > 0):
        raise ValueError(f"eps must be > 0, got {eps}")
    r = base_rewards(scores, base_reward)  # [B]
    bsz = r.numel()
    if features.dim() != 2 or features.shape[0] != bsz:
        raise ValueError(f"features must be [B={bsz}, d], got shape {tuple(features.shape)}")
    if len(group_ids) != bsz:
        raise ValueError(f"group_ids has {len(group_ids)} entries for {bsz} samples")
    phi = features.detach().to("cpu", torch.float64)  # [B, d]
    bad = ~torch.isfinite(phi).all(dim=1)  # [B]
    if bad.any():
        i = int(torch.nonzero(bad)[0])
        raise ValueError(
            f"G2RL feature Phi of sample {i} contains NaN/Inf ({int(bad.sum())} such samples); refusing to "
            "shape. Check the old-log-prob pass (logits, temperature) for this sample."
        )
    valid_b = (
        torch.ones(bsz, dtype=torch.bool)
        if valid is None
        else torch.as_tensor(valid).detach().cpu().reshape(-1).to(torch.bool)
    )  # [B]
    if valid_b.numel() != bsz:
        raise ValueError(f"valid has {valid_b.numel()} entries for {bsz} samples")

    layout = GroupLayout.from_ids(group_ids)
    takes_part = valid_b & (phi.norm(dim=1) > 0)  # [B]

    part = layout.scatter(takes_part, False)  # [G, M]
    s = cosine_matrices(phi, layout, eps)  # [G, M, M]
    exp_r = layout.scatter(torch.exp(r) * takes_part)  # [G, M], 0 for non-participants and padding
    not_self = ~torch.eye(layout.max_size, dtype=torch.bool).unsqueeze(0)  # [1, M, M]
    peer_mass = exp_r.unsqueeze(1) * not_self  # [G, M(i), M(j)] exp(r_j) [j != i]
    w = peer_mass / (peer_mass.sum(dim=2, keepdim=True) + eps)  # [G, M, M] Eq. 10
    nu_grid = torch.clamp(1.0 - (w * s.square()).sum(dim=2), min=0.0)  # [G, M] Eq. 11
    nu_grid = torch.where(part, nu_grid, torch.zeros_like(nu_grid))  # [G, M]

    n_part = part.sum(dim=1)  # [G]
    nu_min = torch.where(part, nu_grid, torch.full_like(nu_grid, math.inf)).amin(dim=1)  # [G]
    nu_max = torch.where(part, nu_grid, torch.full_like(nu_grid, -math.inf)).amax(dim=1)  # [G]
    nu_min = torch.where(n_part > 0, nu_min, torch.zeros_like(nu_min))  # [G]
    nu_max = torch.where(n_part > 0, nu_max, torch.zeros_like(nu_max))  # [G]
    no_spread = (n_part < 2) | (nu_max - nu_min <= tie_tol)  # [G] max = min: no shaping

    valid_grid = layout.scatter(valid_b, False)  # [G, M]
    r_grid = layout.scatter(r)  # [G, M]
    r_min = torch.where(valid_grid, r_grid, torch.full_like(r_grid, math.inf)).amin(dim=1)  # [G]
    r_max = torch.where(valid_grid, r_grid, torch.full_like(r_grid, -math.inf)).amax(dim=1)  # [G]
    group_has_valid = valid_grid.any(dim=1)  # [G]
    uniform = group_has_valid & (r_min == r_max)  # [G] all valid base rewards equal
    skipped = uniform & bool(skip_uniform_groups)  # [G]

    nu_bar_grid = (nu_grid - nu_min.unsqueeze(1)) / (nu_max - nu_min + eps).unsqueeze(1)  # [G, M]
    applies_grid = part & ~(no_spread | skipped).unsqueeze(1)  # [G, M]
    nu_bar_grid = torch.where(applies_grid, nu_bar_grid, torch.zeros_like(nu_bar_grid))  # [G, M]

    nu = layout.gather(nu_grid)  # [B]
    nu_bar = layout.gather(nu_bar_grid)  # [B]
    applies = layout.gather(applies_grid)  # [B]
    if mode == "eq12":
        factor = 1.0 + lam * r * nu_bar  # [B] Eq. 12
    else:
        factor = 1.0 + lam * (2.0 * nu_bar - 1.0)  # [B] prose intent, centred nubar
    shaped = torch.where(applies, r * factor, r).clamp(-clip, clip)  # [B]
    return ShapingResult(
        base=r,
        shaped=shaped,
        nu=nu,
        nu_bar=nu_bar,
        takes_part=takes_part,
        valid=valid_b,
        shaping_applied=applies,
        group=layout.group,
        uniform_group=uniform,
        skipped_group=skipped,
        group_has_valid=group_has_valid,
        clip=float(clip),
    )


def shaped_rewards(
    scores: torch.Tensor,
    features: torch.Tensor,
    group_ids: Sequence[Any],
    lam: float = 0.5,
    mode: str = "eq12",
    clip: float = 3.0,
    skip_uniform_groups: bool = False,
) -> torch.Tensor:
    """Shaped rewards r~ [B] float64 (before GRPO standardisation) from scores [B] in [0, 1]
    (r = 2*score - 1), features Phi [B, d] and a length-B sequence of group ids."""
    return compute_shaping(
        scores, features, group_ids, lam=lam, mode=mode, clip=clip, skip_uniform_groups=skip_uniform_groups
    ).shaped


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------


def geometry_metrics(
    features: torch.Tensor,
    group_ids: Sequence[Any],
    correct: torch.Tensor | None = None,
    *,
    valid: torch.Tensor | None = None,
    eps: float = 1e-8,
) -> dict[str, float]:
    """The paper's Figure 3 quantities over unordered pairs i < j inside each group.

    Returns ``grad_cos_mean`` (mean pair cosine per group, averaged over groups with a pair),
    ``grad_cos_neg_frac`` (fraction of all pairs with cosine < 0) and, when ``correct`` [B] is given,
    the same two over pairs of correct responses (``..._correct_pairs``). Members with ``valid`` False
    or a zero feature are left out. Keys with no pair to average are omitted.
    """
    phi = features.detach().to("cpu", torch.float64)  # [B, d]
    keep = phi.norm(dim=1) > 0  # [B]
    if valid is not None:
        keep &= torch.as_tensor(valid).detach().cpu().reshape(-1).to(torch.bool)
    layout = GroupLayout.from_ids(group_ids)
    s = cosine_matrices(phi, layout, eps)  # [G, M, M]
    upper = torch.triu(torch.ones(layout.max_size, layout.max_size, dtype=torch.bool), diagonal=1)  # [M, M]
    metrics: dict[str, float] = {}
    selections = [("", keep)]
    if correct is not None:
        selections.append(
            ("_correct_pairs", keep & torch.as_tensor(correct).detach().cpu().reshape(-1).to(torch.bool))
        )
    for suffix, member in selections:
        m = layout.scatter(member, False)  # [G, M]
        pairs = m.unsqueeze(2) & m.unsqueeze(1) & upper  # [G, M, M]
        n_pairs = pairs.sum(dim=(1, 2))  # [G]
        if int(n_pairs.sum()) == 0:
            continue
        pair_sum = torch.where(pairs, s, torch.zeros_like(s)).sum(dim=(1, 2))  # [G]
        has = n_pairs > 0  # [G]
        metrics[f"grad_cos_mean{suffix}"] = float((pair_sum[has] / n_pairs[has]).mean())
        metrics[f"grad_cos_neg_frac{suffix}"] = float(((s < 0) & pairs).sum() / n_pairs.sum())
    return metrics


def shaping_metrics(
    result: ShapingResult, features: torch.Tensor, group_ids: Sequence[Any]
) -> dict[str, float]:
    """Per-step metrics (docs/metrics.md), keys prefixed ``g2rl/``. Statistics of nu are over members that take part."""
    part = result.takes_part  # [B]
    bsz = part.numel()
    out: dict[str, float] = {}
    nu = result.nu[part]  # [K]
    if nu.numel():
        out["nu_mean"] = float(nu.mean())
        out["nu_std"] = float(nu.std(unbiased=False))
        out["nu_min"] = float(nu.min())
        out["nu_max"] = float(nu.max())
        out["nu_bar_mean"] = float(result.nu_bar[part].mean())
    for name, sel in (("correct", result.base > 0), ("incorrect", result.base <= 0)):
        chosen = result.nu[part & sel]
        if chosen.numel():
            out[f"nu_mean_{name}"] = float(chosen.mean())
    valid = result.valid  # [B]
    if valid.any():
        out["base_reward_mean"] = float(result.base[valid].mean())
        out["shaped_reward_mean"] = float(result.shaped[valid].mean())
        out["shaped_minus_base_mean"] = float((result.shaped - result.base)[valid].mean())
        out["shaped_clip_frac"] = float((result.shaped[valid].abs() >= result.clip).double().mean())
    groups = result.group_has_valid  # [G]
    if groups.any():
        out["uniform_group_frac"] = float(result.uniform_group[groups].double().mean())
        out["skipped_group_frac"] = float(result.skipped_group[groups].double().mean())
    out["invalid_frac"] = float((~valid).double().mean()) if bsz else 0.0
    phi = features.detach().to("cpu", torch.float64)  # [B, d]
    if part.any():
        out["phi_norm_mean"] = float(phi[part].norm(dim=1).mean())
    correct = result.base > 0  # [B]
    out.update(geometry_metrics(phi, group_ids, correct, valid=valid))
    return {f"g2rl/{k}": v for k, v in out.items()}
