"""Per-token GPPO maths against a hand-derived table (ε_l=0.2, ε_h=0.28, c=10).

F (gradient weight) = (∂L/∂log π_θ) ÷ (−A): what multiplies ∇log π·A in the gradient. For example
δ=0.5, A=−1: δ < 1−ε_l and A<0, so GPPO's loss is −A·(1−ε_l)·g = 0.8·g with g = δ/sg(δ); ∂g/∂logπ = 1,
so ∂L/∂logπ = 0.8 and F = 0.8/1 = 0.8, where PPO would give 0.
"""

import math

import pytest
import torch

from g2rl_verl.gppo.token_loss import gppo_token_loss

EPS_L, EPS_H, C = 0.2, 0.28, 10.0

VARIANTS = {
    "ppo": None,  # reference clip-higher + dual clip, written out below
    "gppo": dict(beta_low=1.0, beta_high=1.0, only_high=False),
    "only_high": dict(beta_low=1.0, beta_high=1.0, only_high=True),
    "general_025": dict(beta_low=0.25, beta_high=1.0, only_high=False),
    "ce_05": dict(beta_low=0.5, beta_high=1.0, only_high=False),
}

# (δ, A): {variant: (L, F)} derived by hand from docs/methods.md, "GPPO".
TABLE = [
    ((0.5, +1), dict(ppo=(-0.5, 0.5), gppo=(-0.5, 0.5), only_high=(-0.5, 0.5), general_025=(-0.5, 0.5), ce_05=(-0.5, 0.5))),
    ((0.5, -1), dict(ppo=(0.8, 0.0), gppo=(0.8, 0.8), only_high=(0.8, 0.0), general_025=(0.2, 0.2), ce_05=(0.4, 0.4))),
    ((1.5, +1), dict(ppo=(-1.28, 0.0), gppo=(-1.28, 1.28), only_high=(-1.28, 1.28), general_025=(-1.28, 1.28), ce_05=(-1.28, 1.28))),
    ((1.5, -1), dict(ppo=(1.5, 1.5), gppo=(1.5, 1.5), only_high=(1.5, 1.5), general_025=(1.5, 1.5), ce_05=(1.5, 1.5))),
    ((12.0, -1), dict(ppo=(10.0, 0.0), gppo=(10.0, 0.0), only_high=(10.0, 0.0), general_025=(10.0, 0.0), ce_05=(10.0, 0.0))),
    ((12.0, +1), dict(ppo=(-1.28, 0.0), gppo=(-1.28, 1.28), only_high=(-1.28, 1.28), general_025=(-1.28, 1.28), ce_05=(-1.28, 1.28))),
    ((5.0, -1), dict(ppo=(5.0, 5.0), gppo=(5.0, 5.0), only_high=(5.0, 5.0), general_025=(5.0, 5.0), ce_05=(5.0, 5.0))),
    ((0.05, -1), dict(ppo=(0.8, 0.0), gppo=(0.8, 0.8), only_high=(0.8, 0.0), general_025=(0.2, 0.2), ce_05=(0.4, 0.4))),
    ((1.0, +1), dict(ppo=(-1.0, 1.0), gppo=(-1.0, 1.0), only_high=(-1.0, 1.0), general_025=(-1.0, 1.0), ce_05=(-1.0, 1.0))),
    ((1.0, -1), dict(ppo=(1.0, 1.0), gppo=(1.0, 1.0), only_high=(1.0, 1.0), general_025=(1.0, 1.0), ce_05=(1.0, 1.0))),
    ((0.9, -1), dict(ppo=(0.9, 0.9), gppo=(0.9, 0.9), only_high=(0.9, 0.9), general_025=(0.9, 0.9), ce_05=(0.9, 0.9))),
    ((1.5, -2), dict(ppo=(3.0, 1.5), gppo=(3.0, 1.5), only_high=(3.0, 1.5), general_025=(3.0, 1.5), ce_05=(3.0, 1.5))),
]


def ppo_clip_higher_reference(log_prob, old_log_prob, adv):
    """Textbook Clip-Higher PPO with dual clip, independent of our implementation."""
    ratio = torch.exp(log_prob - old_log_prob)
    unclipped = -adv * ratio
    clipped = -adv * torch.clamp(ratio, 1 - EPS_L, 1 + EPS_H)
    loss = torch.maximum(unclipped, clipped)
    return torch.where(adv < 0, torch.minimum(loss, -adv * C), loss)


def loss_and_weight(variant, delta, adv):
    old = torch.tensor([[0.0]], dtype=torch.float64)
    log_prob = torch.tensor([[math.log(delta)]], dtype=torch.float64, requires_grad=True)
    A = torch.tensor([[float(adv)]], dtype=torch.float64)
    if VARIANTS[variant] is None:
        loss = ppo_clip_higher_reference(log_prob, old, A)
    else:
        loss = gppo_token_loss(log_prob, old, A, eps_low=EPS_L, eps_high=EPS_H, clip_c=C, **VARIANTS[variant]).loss
    loss.sum().backward()
    return loss.item(), log_prob.grad.item() / (-adv)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("point,expected", TABLE, ids=[f"d{d}_A{a}" for (d, a), _ in TABLE])
def test_gradient_weight_table(variant, point, expected):
    delta, adv = point
    loss, weight = loss_and_weight(variant, delta, adv)
    want_loss, want_weight = expected[variant]
    assert loss == pytest.approx(want_loss, abs=1e-6)
    assert weight == pytest.approx(want_weight, abs=1e-6)


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "ppo"])
def test_zero_advantage_gives_zero_loss_and_gradient(variant):
    log_prob = torch.tensor([[-0.3, 0.4, -2.0]], requires_grad=True)
    out = gppo_token_loss(log_prob, torch.zeros(1, 3), torch.zeros(1, 3), eps_low=EPS_L, eps_high=EPS_H, clip_c=C, **VARIANTS[variant])
    out.loss.sum().backward()
    assert torch.equal(out.loss.detach(), torch.zeros(1, 3))
    assert torch.equal(log_prob.grad, torch.zeros(1, 3))


def random_tokens(seed, shape=(64, 48)):
    g = torch.Generator().manual_seed(seed)
    old = torch.randn(shape, generator=g, dtype=torch.float64) * 0.5 - 1.0
    log_prob = old + torch.randn(shape, generator=g, dtype=torch.float64) * 0.8  # ratios spread over ~[0.1, 10]
    adv = torch.randn(shape, generator=g, dtype=torch.float64)
    return log_prob, old, adv


def test_forward_equals_clip_higher_and_gradients_differ_only_on_clipped_tokens():
    log_prob, old, adv = random_tokens(0)
    lp_ref = log_prob.clone().requires_grad_()
    lp_ours = log_prob.clone().requires_grad_()
    ref = ppo_clip_higher_reference(lp_ref, old, adv)
    out = gppo_token_loss(lp_ours, old, adv, eps_low=EPS_L, eps_high=EPS_H, clip_c=C)
    torch.testing.assert_close(out.loss, ref)
    ref.sum().backward()
    out.loss.sum().backward()
    clipped = out.low | out.high
    assert clipped.any() and (~clipped).any()
    torch.testing.assert_close(lp_ours.grad[~clipped], lp_ref.grad[~clipped])
    assert torch.all(lp_ref.grad[clipped] == 0)
    # On clipped tokens the gradient is -A·(1±ε): exactly the bounded weight of Eq. 12.
    bound = torch.where(out.low, 1 - EPS_L, 1 + EPS_H)
    torch.testing.assert_close(lp_ours.grad[clipped], (-adv * bound)[clipped])


def test_mask_form_equals_eq11_clamp_with_tensor_bounds():
    """Eq. 11: min(δA, clip(δ, (1-ε_l)δ/sg(δ), (1+ε_h)δ/sg(δ))·A), then dual clip; compare value and grad."""
    log_prob, old, adv = random_tokens(1)
    ratio_dist = torch.exp(log_prob - old)
    away = ((ratio_dist - (1 - EPS_L)).abs() > 1e-3) & ((ratio_dist - (1 + EPS_H)).abs() > 1e-3)
    lp_a = log_prob.clone().requires_grad_()
    lp_b = log_prob.clone().requires_grad_()

    delta = torch.exp(lp_a - old)
    g = delta / delta.detach()
    lo, hi = (1 - EPS_L) * g, (1 + EPS_H) * g
    clipped = torch.maximum(torch.minimum(delta, hi), lo)  # clip with tensor bounds, differentiable
    objective = torch.minimum(delta * adv, clipped * adv)
    eq11 = -objective
    eq11 = torch.where(adv < 0, torch.minimum(eq11, -adv * C), eq11)

    ours = gppo_token_loss(lp_b, old, adv, eps_low=EPS_L, eps_high=EPS_H, clip_c=C).loss
    torch.testing.assert_close(ours[away], eq11[away])
    (eq11 * away).sum().backward()
    (ours * away).sum().backward()
    torch.testing.assert_close(lp_b.grad, lp_a.grad)


def test_dual_clip_only_for_negative_advantages_and_with_zero_gradient():
    log_prob = torch.log(torch.tensor([[12.0, 12.0, 30.0, 0.5]])).requires_grad_()
    adv = torch.tensor([[-1.0, 1.0, -0.5, -1.0]])
    out = gppo_token_loss(log_prob, torch.zeros(1, 4), adv, eps_low=EPS_L, eps_high=EPS_H, clip_c=C)
    assert out.dual_clip.tolist() == [[True, False, True, False]]
    # caps: -A·c = 10 and 5; the A>0 token keeps the Clip-Higher value -1.28.
    torch.testing.assert_close(out.loss.detach(), torch.tensor([[10.0, -1.28, 5.0, 0.8]]))
    out.loss.sum().backward()
    assert log_prob.grad[0, 0] == 0 and log_prob.grad[0, 2] == 0
    assert log_prob.grad[0, 1] == pytest.approx(-1.28)
