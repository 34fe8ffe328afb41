"""GPPO losses called the way verl 0.9.1 calls them: through the registry, with a real ActorConfig,
verl's `agg_loss` normalisation and verl's own `ppo_loss` micro-batch path."""

import pytest
import torch
from verl.trainer.ppo.core_algos import get_policy_loss_fn
from verl.workers.utils.losses import ppo_loss

import g2rl_verl.plugin  # noqa: F401  (registers the losses, as the entry point does in workers)

AGG_MODES = ["token-mean", "token-sum", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm"]


def random_batch(seed, B=6, T=10):
    g = torch.Generator().manual_seed(seed)
    old = torch.randn(B, T, generator=g) * 0.3 - 1.0
    log_prob = old + torch.randn(B, T, generator=g) * 0.6
    adv = torch.randn(B, 1, generator=g).expand(B, T).clone()
    lengths = torch.randint(3, T + 1, (B,), generator=g)
    mask = torch.arange(T)[None, :] < lengths[:, None]
    return log_prob, old, adv, mask


def call(loss_mode, log_prob, old, adv, mask, agg, config, weights=None):
    fn = get_policy_loss_fn(loss_mode)
    return fn(
        old_log_prob=old, log_prob=log_prob, advantages=adv, response_mask=mask,
        loss_agg_mode=agg, config=config, rollout_is_weights=weights,
    )


@pytest.mark.parametrize("agg", AGG_MODES)
@pytest.mark.parametrize("global_info", [False, True])
def test_forward_equals_verl_vanilla_clip_higher(agg, global_info, actor_config):
    log_prob, old, adv, mask = random_batch(0)
    cfg_v = actor_config(loss_mode="vanilla", agg=agg)
    cfg_g = actor_config(loss_mode="gppo", agg=agg)
    if global_info:  # as ppo_loss fills it: the normaliser of a larger global batch on 2 DP ranks
        info = dict(dp_size=2, batch_num_tokens=int(mask.sum()) * 2, global_batch_size=12, loss_scale_factor=None)
        cfg_v.global_batch_info.update(info)
        cfg_g.global_batch_info.update(info)
    vanilla, vm = call("vanilla", log_prob, old, adv, mask, agg, cfg_v)
    gppo, gm = call("gppo", log_prob, old, adv, mask, agg, cfg_g)
    torch.testing.assert_close(gppo, vanilla)
    assert gm["actor/pg_clipfrac"] == pytest.approx(vm["actor/pg_clipfrac"])
    assert gm["actor/pg_clipfrac_lower"] == pytest.approx(vm["actor/pg_clipfrac_lower"])
    assert gm["actor/ppo_kl"] == pytest.approx(vm["actor/ppo_kl"])


def test_metrics_count_regions(actor_config):
    # tokens: (δ, A) = (0.5,-1) low, (1.5,+1) high, (12,-1) dual clip, (1.0,+1) plain; all valid.
    log_prob = torch.log(torch.tensor([[0.5, 1.5, 12.0, 1.0]]))
    adv = torch.tensor([[-1.0, 1.0, -1.0, 1.0]])
    mask = torch.ones(1, 4, dtype=torch.bool)
    _, m = call("gppo", log_prob, torch.zeros(1, 4), adv, mask, "token-mean", actor_config())
    assert m["actor/gppo_clipfrac_low"] == pytest.approx(0.25)
    assert m["actor/gppo_clipfrac_high"] == pytest.approx(0.25)
    assert m["actor/pg_clipfrac"] == pytest.approx(0.5)
    assert m["actor/pg_clipfrac_lower"] == pytest.approx(0.25)
    # ppo_kl = mean(-log δ) = -(log .5 + log 1.5 + log 12 + 0)/4
    want = -(torch.log(torch.tensor(0.5)) + torch.log(torch.tensor(1.5)) + torch.log(torch.tensor(12.0))) / 4
    assert m["actor/ppo_kl"] == pytest.approx(want.item(), rel=1e-5)


@pytest.mark.parametrize(
    "loss_mode,beta1,beta2,low_weight,high_weight",
    [
        ("gppo", 1.0, 1.0, 0.8, 1.28),
        ("gppo_only_high", 1.0, 1.0, 0.0, 1.28),
        ("ce_gppo", 0.25, 1.0, 0.2, 1.28),  # β₁(1-ε_l) = 0.25·0.8
        ("ce_gppo", 0.5, 2.0, 0.4, 2.56),  # β₂(1+ε_h) = 2·1.28
    ],
)
def test_beta_scaling_through_registry(loss_mode, beta1, beta2, low_weight, high_weight, actor_config):
    # token 0 in the low region (δ=0.5, A=-1), token 1 in the high region (δ=1.5, A=+1); token-sum so
    # d pg_loss / d logπ is the per-token ∂L/∂logπ and F = grad / (-A).
    log_prob = torch.log(torch.tensor([[0.5, 1.5]])).requires_grad_()
    adv = torch.tensor([[-1.0, 1.0]])
    cfg = actor_config(loss_mode=loss_mode, beta1=beta1, beta2=beta2, agg="token-sum")
    loss, _ = call(loss_mode, log_prob, torch.zeros(1, 2), adv, torch.ones(1, 2, dtype=torch.bool), "token-sum", cfg)
    loss.backward()
    assert log_prob.grad[0, 0].item() / 1.0 == pytest.approx(low_weight)
    assert log_prob.grad[0, 1].item() / -1.0 == pytest.approx(high_weight)
    # forward: β scales the clipped value: low token β₁·0.8, high token -β₂·1.28
    want_low = 0.8 * (beta1 if loss_mode == "ce_gppo" else 1.0)
    want_high = -1.28 * (beta2 if loss_mode == "ce_gppo" else 1.0)
    assert loss.item() == pytest.approx(want_low + want_high)


def test_rollout_is_weights_multiply_each_token(actor_config):
    log_prob, old, adv, mask = random_batch(1)
    weights = torch.rand(log_prob.shape, generator=torch.Generator().manual_seed(3)) + 0.5
    cfg = actor_config(agg="token-sum")
    plain, _ = call("gppo", log_prob, old, adv, mask, "token-sum", cfg)
    from g2rl_verl.gppo.token_loss import gppo_token_loss

    per_token = gppo_token_loss(log_prob, old, adv, eps_low=0.2, eps_high=0.28, clip_c=10.0).loss
    weighted, _ = call("gppo", log_prob, old, adv, mask, "token-sum", cfg, weights=weights)
    torch.testing.assert_close(weighted, (per_token * weights * mask).sum())
    torch.testing.assert_close(plain, (per_token * mask).sum())


def test_ce_gppo_requires_our_config_class():
    from verl.workers.config import ActorConfig, PolicyLossConfig

    cfg = ActorConfig(strategy="fsdp", rollout_n=1, ppo_micro_batch_size_per_gpu=1,
                      policy_loss=PolicyLossConfig(loss_mode="ce_gppo"))
    log_prob, old, adv, mask = random_batch(2)
    with pytest.raises(ValueError, match="GPPOPolicyLossConfig"):
        call("ce_gppo", log_prob, old, adv, mask, "token-mean", cfg)


def test_bad_clip_c_names_the_key(actor_config):
    log_prob, old, adv, mask = random_batch(2)
    with pytest.raises(ValueError, match="actor_rollout_ref.actor.clip_ratio_c"):
        call("gppo", log_prob, old, adv, mask, "token-mean", actor_config(clip_c=1.1))


@pytest.mark.parametrize("loss_mode", ["gppo", "ce_gppo"])
def test_through_verl_ppo_loss_matches_direct_call(loss_mode, actor_config, micro_batch):
    log_prob, old, adv, mask = random_batch(4)
    lp = log_prob.clone().requires_grad_()
    cfg = actor_config(loss_mode=loss_mode, beta1=0.5)
    model_output, data = micro_batch(lp, old, adv, mask)
    loss, metrics = ppo_loss(cfg, model_output, data)
    direct, _ = call(loss_mode, log_prob, old, adv, mask, "token-mean", actor_config(loss_mode=loss_mode, beta1=0.5))
    torch.testing.assert_close(loss, direct)
    assert {"actor/gppo_clipfrac_low", "actor/gppo_clipfrac_high", "actor/ppo_kl", "actor/pg_loss"} <= set(metrics)
    loss.backward()
    assert lp.grad is not None and lp.grad[mask].abs().sum() > 0
    assert torch.all(lp.grad[~mask] == 0)


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean-token-mean", "token-sum"])
def test_micro_batch_split_does_not_change_summed_gradient(agg, actor_config, micro_batch):
    """With verl's global batch info, Σ over micro-batches of the gradient equals the whole-batch gradient."""
    log_prob, old, adv, mask = random_batch(5, B=8)
    whole = log_prob.clone().requires_grad_()
    cfg = actor_config(agg=agg)
    mo, data = micro_batch(whole, old, adv, mask)
    ppo_loss(cfg, mo, data)[0].backward()

    split = log_prob.clone().requires_grad_()
    for idx in ([0, 1, 2], [3, 4, 5, 6, 7]):
        mo, data = micro_batch(
            split[idx], old[idx], adv[idx], mask[idx], batch_num_tokens=int(mask.sum()), global_batch_size=8
        )
        ppo_loss(actor_config(agg=agg), mo, data)[0].backward()
    torch.testing.assert_close(split.grad, whole.grad)
