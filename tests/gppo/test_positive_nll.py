"""Klear's positive-sample NLL term through the whole-loss wrapper (docs/methods.md, "Positive-sample NLL")."""

import math

import pytest
import torch

from g2rl_verl.gppo.positive_nll import (
    NUM_POSITIVE_TOKENS_KEY,
    POSITIVE_FIELD,
    PPOLossWithPositiveNLL,
    annotate_positive_token_count,
)
from verl.workers.utils.losses import ppo_loss


def two_samples():
    # sample 0: positive, 3 tokens with log π = log .5, log .25, log .5 ; sample 1: negative, 2 tokens.
    log_prob = torch.log(torch.tensor([[0.5, 0.25, 0.5], [0.1, 0.2, 1.0]]))
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.bool)
    old = log_prob.clone()  # δ = 1 everywhere
    adv = torch.zeros(2, 3)  # pg_loss = 0, so the total is the NLL term alone
    positive = torch.tensor([1.0, 0.0])
    return log_prob, old, adv, mask, positive


def build(micro_batch, log_prob, old, adv, mask, positive, n_pos):
    mo, data = micro_batch(log_prob, old, adv, mask, extra={POSITIVE_FIELD: positive})
    if n_pos is not None:
        from verl.utils import tensordict_utils as tu

        tu.assign_non_tensor(data, **{NUM_POSITIVE_TOKENS_KEY: n_pos})
    return mo, data


def test_nll_equals_hand_computed_mean_over_positive_tokens(actor_config, micro_batch):
    log_prob, old, adv, mask, positive = two_samples()
    lp = log_prob.clone().requires_grad_()
    mo, data = build(micro_batch, lp, old, adv, mask, positive, n_pos=3)
    cfg = actor_config(nll=0.1)
    loss, metrics = PPOLossWithPositiveNLL(cfg)(mo, data)
    # NLL_pos = mean over the 3 positive tokens of -log π = (log2 + log4 + log2)/3 = 4 log2 / 3
    nll = 4 * math.log(2) / 3
    assert loss.item() == pytest.approx(0.1 * nll, rel=1e-6)
    assert metrics["actor/positive_nll"].aggregate() == pytest.approx(nll, rel=1e-6)
    loss.backward()
    # d(0.1·Σ(-log π)/3)/d log π = -0.1/3 on positive tokens; 0 on the negative sample's tokens
    torch.testing.assert_close(lp.grad[0], torch.full((3,), -0.1 / 3))
    assert torch.all(lp.grad[1] == 0)


def test_no_positive_gives_zero_term(actor_config, micro_batch):
    log_prob, old, adv, mask, _ = two_samples()
    mo, data = build(micro_batch, log_prob, old, adv, mask, torch.zeros(2), n_pos=0)
    cfg = actor_config(nll=0.1)
    loss, _ = PPOLossWithPositiveNLL(cfg)(mo, data)
    base, _ = ppo_loss(actor_config(nll=0.1), *micro_batch(log_prob, old, adv, mask))
    assert loss.item() == pytest.approx(base.item())


def test_zero_coefficient_is_plain_ppo_loss(actor_config, micro_batch):
    log_prob, old, adv, mask, positive = two_samples()
    adv = torch.tensor([[1.0] * 3, [-1.0] * 3])
    mo, data = build(micro_batch, log_prob + 0.1, old, adv, mask, positive, n_pos=None)
    loss, metrics = PPOLossWithPositiveNLL(actor_config(nll=0.0))(mo, data)
    base, _ = ppo_loss(actor_config(), *micro_batch(log_prob + 0.1, old, adv, mask))
    assert loss.item() == pytest.approx(base.item())
    assert "actor/positive_nll" not in metrics


def test_missing_count_is_a_clear_error(actor_config, micro_batch):
    log_prob, old, adv, mask, positive = two_samples()
    mo, data = build(micro_batch, log_prob, old, adv, mask, positive, n_pos=None)
    with pytest.raises(KeyError, match=NUM_POSITIVE_TOKENS_KEY):
        PPOLossWithPositiveNLL(actor_config(nll=0.1))(mo, data)


def test_split_into_micro_batches_gives_the_mini_batch_mean(actor_config, micro_batch):
    """Per micro-batch Σ(-log π)·dp/N_pos with the mini-batch N_pos sums to the mini-batch mean."""
    g = torch.Generator().manual_seed(0)
    log_prob = -torch.rand(6, 5, generator=g) * 2
    mask = torch.arange(5)[None] < torch.tensor([5, 3, 4, 2, 5, 1])[:, None]
    positive = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    zeros = torch.zeros(6, 5)

    whole_lp = log_prob.clone().requires_grad_()
    mo, data = micro_batch(whole_lp, log_prob, zeros, mask, extra={POSITIVE_FIELD: positive})
    annotate_positive_token_count(data, dp_group=None)
    n_pos = int((mask.sum(-1) * positive).sum())  # 5 + 4 + 2 + 1 = 12
    assert data[NUM_POSITIVE_TOKENS_KEY] == n_pos
    PPOLossWithPositiveNLL(actor_config(nll=1.0))(mo, data)[0].backward()

    split_lp = log_prob.clone().requires_grad_()
    for idx in ([0, 1], [2, 3, 4, 5]):
        mo, d = build(micro_batch, split_lp[idx], log_prob[idx], zeros[idx], mask[idx], positive[idx], n_pos=n_pos)
        PPOLossWithPositiveNLL(actor_config(nll=1.0))(mo, d)[0].backward()
    torch.testing.assert_close(split_lp.grad, whole_lp.grad)
    want = -(log_prob * mask * positive[:, None]).sum() / n_pos
    # grad = -1/N_pos on positive tokens, so Σ grad·log π = -Σ_pos log π / N_pos = NLL_pos
    assert (whole_lp.grad * log_prob).sum().item() == pytest.approx(want.item(), rel=1e-5)
