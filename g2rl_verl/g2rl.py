"""G2RL maths: gradient features of responses and the gradient-guided reward shaping (pure torch).

Paper: "Can LLMs Guide Their Own Exploration? Gradient-Guided Reinforcement Learning for LLM
Reasoning" (arXiv 2512.15687). Formulas, decisions and edge cases: ``shared/spec/g2rl.md`` (cited as
§N below). No verl types here; the verl glue lives in :mod:`g2rl_verl.g2rl_engine` (features in the
actor's old-log-prob pass) and :mod:`g2rl_verl.g2rl_estimator` (advantage estimator).

Sequence feature (§2.2-2.4). With E = lm_head.weight [V, d] and p_t = softmax(z_t / T),

    phi_t = E[y_t] - E^T p_t,        Phi_i = (1 / (L_i + eps)) * sum_{t in resp_i} phi_t
                                           = E^T (c_i - P_i) / (L_i + eps)

where c_i is the token-count histogram of response i and P_i the sum of its p_t. We accumulate the
V-vector (c_i - P_i) per sequence over row chunks of the logits, then do one [n_seq, V] x [V, d]
product, so no [tokens, d] tensor and no second [tokens, V] tensor ever exists (§4.3). (1/T) * phi_t
is the gradient of log p(y_t) with respect to the final hidden state.

Shaping (§2.5-2.11), per group of responses to one prompt, over the members that take part:

    S_ij   = <Phi_i/(|Phi_i|+eps), Phi_j/(|Phi_j|+eps)>
    w_ij   = exp(r_j) [j != i] / (sum_{k != i} exp(r_k) + eps)
    nu_i   = max(1 - sum_j w_ij S_ij^2, 0)
    nubar  = (nu - min nu) / (max nu - min nu + eps)
    eq12:  r~ = clip(r (1 + lam r nubar), -c, c)        prose: r~ = clip(r (1 + lam (2 nubar - 1)), -c, c)

Every group is handled at once on padded [G, M, ...] tensors (G groups, M = largest group); the
group computations run in float64 (§4.2).

Decisions beyond the spec's text (documented in :func:`compute_shaping`):
- a member "takes part" when its reward is valid and its feature is non-zero (an empty response has
  Phi = 0, which has no direction); members that do not take part keep r~ = clip(r);
- a group whose nu range is at most ``tie_tol`` (float noise from the eps terms; identical features
  give a range of about 1e-9) counts as max = min: nubar = 0 and no shaping, r~ = clip(r), in both
  modes. ("no shaping" is what §2.8 and acceptance test 11.3 ask for; in `prose` mode nubar = 0
  alone would give r(1 - lam).)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

SHAPING_MODES = ("eq12", "prose")
BASE_REWARD_MAPPINGS = ("affine", "identity")

# Rows of E upcast to fp32 at a time when E is stored in low precision (bf16 E for Qwen3-4B is
# 151936 x 2560; a full fp32 copy would be 1.5 GB, a 8192-row chunk is 84 MB).
_E_UPCAST_ROWS = 8192


# ---------------------------------------------------------------------------------------------
# Sequence features
# ---------------------------------------------------------------------------------------------


def dense_features(phi: torch.Tensor) -> torch.Tensor:
    """Features as they come back through verl (a jagged tensor whose rows all have length d) -> [B, d] fp32."""
    if phi.is_nested:
        return torch.stack(list(phi.unbind()), dim=0).to(torch.float32)  # [B, d]
    return phi.to(torch.float32)


def packed_token_seq_index(cu_seqlens: torch.Tensor) -> torch.Tensor:
    """Sequence index of every token of a packed batch, from cumulative lengths [n_seq + 1] -> [N]."""
    lengths = cu_seqlens.diff().long()  # [n_seq]
    seq = torch.arange(lengths.numel(), device=cu_seqlens.device)  # [n_seq]
    return torch.repeat_interleave(seq, lengths)  # [N]


@torch.no_grad()
def feature_sums_packed(
    logits: torch.Tensor,
    lm_head_weight: torch.Tensor,
    token_ids: torch.Tensor,
    token_seq_index: torch.Tensor,
    token_mask: torch.Tensor,
    n_seq: int,
    *,
    temperature: float | torch.Tensor = 1.0,
    chunk_tokens: int = 2048,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Un-normalised feature sums sum_t mask_t * phi_t and token counts L per sequence (packed layout).

    Args:
        logits: [N, V] raw logits; row t is the distribution that token_ids[t] was sampled from.
        lm_head_weight: [V, d] E, any float dtype, any device (upcast and moved chunk-wise over V).
        token_ids: [N] sampled ids y_t.
        token_seq_index: [N] sequence of each row, in [0, n_seq).
        token_mask: [N] weight of each row (1 for response tokens, 0 elsewhere; 0/1 expected).
        n_seq: number of sequences.
        temperature: T as a float, or a [N] tensor (per-row temperature). Logits are divided by it.
        chunk_tokens: rows softmaxed at once; bounds the extra memory to chunk_tokens x V fp32.

    Returns:
        (sums [n_seq, d] fp32, lengths [n_seq] fp32). Both are linear in the rows, so partial sums
        over shards of the rows (sequence parallelism) add up to the unsharded result.
    """
    if logits.dim() != 2:
        raise ValueError(f"logits must be [N, V], got shape {tuple(logits.shape)}")
    n_rows, vocab = logits.shape
    if lm_head_weight.dim() != 2 or lm_head_weight.shape[0] != vocab:
        raise ValueError(
            f"lm_head_weight must be [V={vocab}, d] to match the logits, got {tuple(lm_head_weight.shape)}"
        )
    for name, t in (
        ("token_ids", token_ids),
        ("token_seq_index", token_seq_index),
        ("token_mask", token_mask),
    ):
        if t.shape != (n_rows,):
            raise ValueError(f"{name} must be [N={n_rows}], got shape {tuple(t.shape)}")
    if chunk_tokens < 1:
        raise ValueError(f"chunk_tokens must be >= 1, got {chunk_tokens}")
    device = logits.device
    per_row_temperature = isinstance(temperature, torch.Tensor) and temperature.numel() > 1
    if per_row_temperature and temperature.shape != (n_rows,):
        raise ValueError(f"a tensor temperature must be [N={n_rows}], got {tuple(temperature.shape)}")
    scalar_temperature = None if per_row_temperature else float(temperature)

    rows = torch.nonzero(token_mask != 0).squeeze(1)  # [K] rows that count (response tokens)
    seq = token_seq_index[rows].long()  # [K]
    weight = token_mask[rows].to(torch.float32)  # [K]
    labels = token_ids[rows].long()  # [K]

    diff = torch.zeros(n_seq, vocab, dtype=torch.float32, device=device)  # [n_seq, V] becomes C - P
    for start in range(0, rows.numel(), chunk_tokens):
        idx = rows[start : start + chunk_tokens]  # [k]
        z = logits.index_select(0, idx).to(torch.float32)  # [k, V] fresh copy, safe to edit in place
        if per_row_temperature:
            z.div_(temperature[idx].to(torch.float32).clamp(min=1e-8).unsqueeze(1))  # [k, V]
        elif scalar_temperature != 1.0:
            z.div_(scalar_temperature)  # [k, V]
        # in-place softmax, scaled by -mask: keeps a single [k, V] fp32 buffer alive
        z.sub_(z.amax(dim=1, keepdim=True)).exp_()  # [k, V]
        z.mul_((-weight[start : start + chunk_tokens] / z.sum(dim=1)).unsqueeze(1))  # [k, V] = -w p
        diff.index_add_(0, seq[start : start + chunk_tokens], z)  # [n_seq, V] -= P
        del z
    diff.index_put_((seq, labels), weight, accumulate=True)  # [n_seq, V] += c

    sums = torch.zeros(n_seq, lm_head_weight.shape[1], dtype=torch.float32, device=device)  # [n_seq, d]
    if lm_head_weight.dtype == torch.float32 and lm_head_weight.device == device:
        sums += diff @ lm_head_weight  # [n_seq, d]
    else:
        for v0 in range(0, vocab, _E_UPCAST_ROWS):
            e_chunk = lm_head_weight[v0 : v0 + _E_UPCAST_ROWS].to(
                device=device, dtype=torch.float32
            )  # [v, d]
            sums += diff[:, v0 : v0 + _E_UPCAST_ROWS] @ e_chunk  # [n_seq, d]
    lengths = torch.zeros(n_seq, dtype=torch.float32, device=device).index_add_(0, seq, weight)  # [n_seq]
    return sums, lengths


def normalise_feature_sums(sums: torch.Tensor, lengths: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Phi = sums / (L + eps) (Eq. 8); an empty response (L = 0) gets Phi = 0."""
    return sums / (lengths.unsqueeze(1) + eps)  # [n_seq, d]


def sequence_features_packed(
    logits: torch.Tensor,
    lm_head_weight: torch.Tensor,
    token_ids: torch.Tensor,
    token_mask: torch.Tensor,
    n_seq: int | None = None,
    *,
    token_seq_index: torch.Tensor | None = None,
    cu_seqlens: torch.Tensor | None = None,
    temperature: float | torch.Tensor = 1.0,
    chunk_tokens: int = 2048,
    eps: float = 1e-8,
) -> torch.Tensor:
    """Phi [n_seq, d] fp32 for a packed batch: logits [N, V], token_ids / token_mask [N].

    Give the token -> sequence map either as ``token_seq_index`` [N] (with ``n_seq``) or as
    ``cu_seqlens`` [n_seq + 1] (then ``n_seq`` defaults to its length - 1).
    """
    if (token_seq_index is None) == (cu_seqlens is None):
        raise ValueError("give exactly one of token_seq_index and cu_seqlens")
    if cu_seqlens is not None:
        token_seq_index = packed_token_seq_index(cu_seqlens)  # [N]
        n_seq = cu_seqlens.numel() - 1 if n_seq is None else n_seq
    if n_seq is None:
        raise ValueError("n_seq is required with token_seq_index")
    sums, lengths = feature_sums_packed(
        logits,
        lm_head_weight,
        token_ids,
        token_seq_index,
        token_mask,
        n_seq,
        temperature=temperature,
        chunk_tokens=chunk_tokens,
    )
    return normalise_feature_sums(sums, lengths, eps)  # [n_seq, d]


def sequence_features(
    logits: torch.Tensor,
    lm_head_weight: torch.Tensor,
    token_ids: torch.Tensor,
    response_mask: torch.Tensor,
    temperature: float | torch.Tensor = 1.0,
    chunk_tokens: int = 2048,
    eps: float = 1e-8,
) -> torch.Tensor:
    """Phi [B, d] fp32 for a padded batch.

    Args:
        logits: [B, T, V]; token_ids[b, t] was sampled from logits[b, t].
        lm_head_weight: [V, d].
        token_ids, response_mask: [B, T]; the mask selects the response tokens that count.
        temperature: float, or a [B] tensor (per-sample temperature).
    """
    if logits.dim() != 3:
        raise ValueError(f"logits must be [B, T, V], got shape {tuple(logits.shape)}")
    bsz, seq_len, vocab = logits.shape
    if token_ids.shape != (bsz, seq_len) or response_mask.shape != (bsz, seq_len):
        raise ValueError(
            f"token_ids {tuple(token_ids.shape)} and response_mask {tuple(response_mask.shape)} must be "
            f"[B={bsz}, T={seq_len}]"
        )
    token_seq_index = torch.arange(bsz, device=logits.device).repeat_interleave(seq_len)  # [B*T]
    if isinstance(temperature, torch.Tensor) and temperature.numel() > 1:
        temperature = temperature.reshape(bsz, 1).expand(bsz, seq_len).reshape(-1)  # [B*T]
    sums, lengths = feature_sums_packed(
        logits.reshape(bsz * seq_len, vocab),  # [B*T, V] (a view when contiguous)
        lm_head_weight,
        token_ids.reshape(-1),  # [B*T]
        token_seq_index,
        response_mask.reshape(-1),  # [B*T]
        bsz,
        temperature=temperature,
        chunk_tokens=chunk_tokens,
    )
    return normalise_feature_sums(sums, lengths, eps)  # [B, d]


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
            f"is outside [-1, 1] ({int(bad.sum())} such samples). G2RL needs scores in [0, 1] with the affine "
            "mapping (r = 2*score - 1): check the reward profile (e.g. `klear` gives -2) and "
            "algorithm.g2rl.base_reward."
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
        lam, mode, clip, skip_uniform_groups, eps: §2.9-2.11, §4.2.
        base_reward: ``affine`` (r = 2*score - 1) or ``identity`` (r = score).
        tie_tol: nu ranges at or below this count as max = min (no shaping), see the module docstring.

    Edge cases (§4.6): a member alone in its group (or the only one taking part) has nu = 1,
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
    no_spread = (n_part < 2) | (nu_max - nu_min <= tie_tol)  # [G] max = min: no shaping (§2.8)

    valid_grid = layout.scatter(valid_b, False)  # [G, M]
    r_grid = layout.scatter(r)  # [G, M]
    r_min = torch.where(valid_grid, r_grid, torch.full_like(r_grid, math.inf)).amin(dim=1)  # [G]
    r_max = torch.where(valid_grid, r_grid, torch.full_like(r_grid, -math.inf)).amax(dim=1)  # [G]
    group_has_valid = valid_grid.any(dim=1)  # [G]
    uniform = group_has_valid & (r_min == r_max)  # [G] §2.11
    skipped = uniform & bool(skip_uniform_groups)  # [G]

    nu_bar_grid = (nu_grid - nu_min.unsqueeze(1)) / (nu_max - nu_min + eps).unsqueeze(1)  # [G, M] §2.8
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
    """Per-step metrics of §4.8, keys prefixed ``g2rl/``. Statistics of nu are over members that take part."""
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
