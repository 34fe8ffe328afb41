"""G2RL sequence features: the per-response gradient direction Phi (pure torch, no verl types).

Paper: "Can LLMs Guide Their Own Exploration? Gradient-Guided Reinforcement Learning for LLM
Reasoning" (arXiv 2512.15687). Equations and decisions: docs/methods.md, section "G2RL: sequence
features". The verl glue that calls this from the actor's old-log-prob pass is
:mod:`g2rl_verl.g2rl.engine`.

With E = lm_head.weight [V, d] and p_t = softmax(z_t / T),

    phi_t = E[y_t] - E^T p_t,        Phi_i = (1 / (L_i + eps)) * sum_{t in resp_i} phi_t
                                           = E^T (c_i - P_i) / (L_i + eps)

where c_i is the token-count histogram of response i and P_i the sum of its p_t. We accumulate the
V-vector (c_i - P_i) per sequence over row chunks of the logits, then do one [n_seq, V] x [V, d]
product, so no [tokens, d] tensor and no second [tokens, V] tensor ever exists. (1/T) * phi_t is the
gradient of log p(y_t) with respect to the final hidden state.
"""

from __future__ import annotations

import torch

# Rows of E upcast to fp32 at a time when E is stored in low precision (bf16 E for Qwen3-4B is
# 151936 x 2560; a full fp32 copy would be 1.5 GB, a 8192-row chunk is 84 MB).
_E_UPCAST_ROWS = 8192



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

