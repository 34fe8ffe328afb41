"""Phi = E^T (c - P) / L (g2rl_verl.g2rl) against autograd on a tiny random HF causal LM.

Reference (independent of the identity): d log softmax(z_t / T)[y_t] / d h_t = (1/T) W (e_y - p_t) with
h_t the final hidden state (the lm_head input). So Phi_i = T * mean over response tokens of the autograd
gradient of log p(y_t) with respect to h_t.
"""

import pytest
import torch

from g2rl_verl.g2rl import features as g2rl

TEMPERATURE = 0.8
# (length, response length) per sequence; responses are the last tokens of each sequence
SEQS = [(9, 5), (6, 3), (11, 6)]  # 14 response tokens in all


def _batch(seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    max_len = max(n for n, _ in SEQS)
    ids = torch.zeros(len(SEQS), max_len, dtype=torch.long)
    attention = torch.zeros(len(SEQS), max_len, dtype=torch.long)
    resp = torch.zeros(len(SEQS), max_len)  # [B, T] mask over the rows that predict response tokens
    for b, (n, r) in enumerate(SEQS):
        ids[b, :n] = torch.randint(0, 61, (n,), generator=gen)
        attention[b, :n] = 1
        resp[b, n - r - 1 : n - 1] = 1.0  # row t predicts token t + 1
    resp[2, 6] = 0.0  # a masked token inside a response (tool output): must not count
    labels = torch.roll(ids, shifts=-1, dims=1)  # [B, T] y_t = next token
    return ids, attention, labels, resp


def _autograd_phi(model, ids, attention, labels, resp):
    hidden = model.model(input_ids=ids, attention_mask=attention).last_hidden_state.detach()  # [B, T, d]
    hidden.requires_grad_(True)
    logp = torch.log_softmax(model.lm_head(hidden) / TEMPERATURE, dim=-1)  # [B, T, V]
    picked = logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1)  # [B, T]
    (picked * resp).sum().backward()  # h_t only feeds log p(y_t): grad[b, t] = d log p(y_t) / d h_t
    grads = hidden.grad  # [B, T, d]
    return TEMPERATURE * grads.sum(dim=1) / resp.sum(dim=1, keepdim=True)  # [B, d]


@pytest.mark.parametrize("chunk", [1, 4, 7, 2048])  # 4 does not divide the 13 counted tokens, 2048 > all
def test_padded_phi_equals_autograd_gradient(causal_lm, chunk):
    ids, attention, labels, resp = _batch()
    expected = _autograd_phi(causal_lm, ids, attention, labels, resp)
    with torch.no_grad():
        logits = causal_lm(input_ids=ids, attention_mask=attention).logits  # [B, T, V]
    phi = g2rl.sequence_features(
        logits,
        causal_lm.get_output_embeddings().weight,
        labels,
        resp,
        temperature=TEMPERATURE,
        chunk_tokens=chunk,
    )
    assert phi.dtype == torch.float32 and phi.shape == expected.shape
    torch.testing.assert_close(phi, expected, rtol=1e-4, atol=1e-5)
    assert expected.abs().max() > 1e-2  # the check is not vacuous


@pytest.mark.parametrize("chunk", [3, 5, 64])
def test_packed_phi_equals_autograd_gradient(causal_lm, chunk):
    ids, attention, labels, resp = _batch()
    expected = _autograd_phi(causal_lm, ids, attention, labels, resp)
    with torch.no_grad():
        logits = causal_lm(input_ids=ids, attention_mask=attention).logits  # [B, T, V]
    keep = attention.bool()  # drop the padding: packed layout
    cu = torch.tensor([0] + [n for n, _ in SEQS]).cumsum(0)
    phi = g2rl.sequence_features_packed(
        logits[keep],
        causal_lm.get_output_embeddings().weight,
        labels[keep],
        resp[keep],
        cu_seqlens=cu,
        temperature=TEMPERATURE,
        chunk_tokens=chunk,
    )
    torch.testing.assert_close(phi, expected, rtol=1e-4, atol=1e-5)
    # the same with an explicit token -> sequence map
    phi_idx = g2rl.sequence_features_packed(
        logits[keep],
        causal_lm.get_output_embeddings().weight,
        labels[keep],
        resp[keep],
        len(SEQS),
        token_seq_index=g2rl.packed_token_seq_index(cu),
        temperature=TEMPERATURE,
        chunk_tokens=chunk,
    )
    torch.testing.assert_close(phi_idx, phi, rtol=0, atol=0)


def test_per_sample_temperature_and_empty_response():
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(3, 5, 13, generator=gen)  # [B, T, V]
    weight = torch.randn(13, 4, generator=gen)  # [V, d]
    labels = torch.randint(0, 13, (3, 5), generator=gen)
    mask = torch.ones(3, 5)
    mask[1] = 0.0  # L = 0: Phi must be exactly 0
    temps = torch.tensor([0.5, 1.0, 2.0])
    phi = g2rl.sequence_features(logits, weight, labels, mask, temperature=temps, chunk_tokens=4)
    for b in (0, 2):  # each row equals the scalar-temperature computation
        alone = g2rl.sequence_features(
            logits[b : b + 1], weight, labels[b : b + 1], mask[b : b + 1], temperature=float(temps[b])
        )
        torch.testing.assert_close(phi[b : b + 1], alone)
    assert torch.equal(phi[1], torch.zeros(4))


def test_low_precision_weight_is_upcast_chunkwise_over_vocab(monkeypatch):
    gen = torch.Generator().manual_seed(4)
    logits = torch.randn(2, 6, 61, generator=gen)
    weight = torch.randn(61, 8, generator=gen).to(torch.bfloat16)
    labels = torch.randint(0, 61, (2, 6), generator=gen)
    mask = torch.ones(2, 6)
    expected = g2rl.sequence_features(logits, weight.float(), labels, mask)  # fp32 E, single product
    monkeypatch.setattr(g2rl, "_E_UPCAST_ROWS", 16)  # 61 rows -> chunks 16, 16, 16, 13
    phi = g2rl.sequence_features(logits, weight, labels, mask)
    assert phi.dtype == torch.float32
    torch.testing.assert_close(phi, expected, rtol=1e-5, atol=1e-6)


def test_sequence_parallel_partial_sums_add_up_to_the_unsplit_features():
    # two SP ranks each hold half of the packed rows (+1 pad row); summing their partial
    # sums and dividing by the full L_i gives the unsplit Phi, even when a sequence straddles the cut.
    gen = torch.Generator().manual_seed(5)
    cu = torch.tensor([0, 7, 12, 21])  # 21 rows, 3 sequences; the cut at row 11 splits sequence 1
    logits = torch.randn(21, 17, generator=gen)
    weight = torch.randn(17, 6, generator=gen)
    labels = torch.randint(0, 17, (21,), generator=gen)
    mask = (torch.rand(21, generator=gen) > 0.3).float()
    seq = g2rl.packed_token_seq_index(cu)
    full = g2rl.sequence_features_packed(logits, weight, labels, mask, cu_seqlens=cu)

    pad = lambda t: torch.cat([t, t[:1] * 0])
    logits_p, labels_p, mask_p, seq_p = pad(logits), pad(labels), pad(mask), pad(seq)
    sums = torch.zeros(3, 6)
    for rank in range(2):
        rows = slice(rank * 11, (rank + 1) * 11)
        partial, _ = g2rl.feature_sums_packed(
            logits_p[rows], weight, labels_p[rows], seq_p[rows], mask_p[rows], 3, chunk_tokens=4
        )
        sums += partial  # all-reduce SUM
    lengths = torch.zeros(3).index_add_(0, seq, mask)  # the full L_i, not a shard's count
    torch.testing.assert_close(g2rl.normalise_feature_sums(sums, lengths), full, rtol=1e-5, atol=1e-6)


def test_shape_errors_name_the_argument():
    with pytest.raises(ValueError, match="lm_head_weight"):
        g2rl.sequence_features(
            torch.zeros(1, 2, 5), torch.zeros(4, 3), torch.zeros(1, 2, dtype=torch.long), torch.ones(1, 2)
        )
    with pytest.raises(ValueError, match="token_mask"):
        g2rl.feature_sums_packed(
            torch.zeros(3, 5),
            torch.zeros(5, 2),
            torch.zeros(3, dtype=torch.long),
            torch.zeros(3, dtype=torch.long),
            torch.ones(2),
            1,
        )
