"""Shaping maths of g2rl_verl.g2rl (docs/methods.md, "G2RL: shaping") against hand-derived values."""

import math

import pytest
import torch

from g2rl_verl.g2rl import shaping as g2rl

E2 = math.exp(2.0)  # exp(r_j) ratio of a correct to an incorrect peer is e^2 (r = +1 vs -1)
R2 = 1 / math.sqrt(2)


def test_three_responses_by_hand_both_modes():
    # Phi1 = (1, 0), Phi2 = (1, 1), Phi3 = (0, 1); scores (1, 1, 0) -> r = (+1, +1, -1).
    # S^2: S12^2 = 1/2, S13^2 = 0, S23^2 = 1/2.
    # i=1: peers 2 (r=+1), 3 (r=-1): w12 = e/(e + 1/e) = e^2/(e^2+1), nu1 = 1 - w12/2 = 1 - e^2/(2(e^2+1)) = 0.559601
    # i=2: both peers have S^2 = 1/2 and the weights sum to 1: nu2 = 0.5
    # i=3: peers 1, 2 both r=+1, w = 1/2 each: nu3 = 1 - (0 + 1/2)/2 = 0.75
    # min 0.5, max 0.75: nubar = ((nu1 - 0.5)/0.25, 0, 1) = (0.238406, 0, 1)
    # eq12 (lam 0.5): r~ = r(1 + lam r nubar) = (1.119203, 1, -1 * (1 - 0.5) = -0.5)
    # prose: r~ = r(1 + lam(2 nubar - 1)) = (0.738406, 0.5, -1.5)
    features = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    scores = torch.tensor([1.0, 1.0, 0.0])
    nu1 = 1 - E2 / (2 * (E2 + 1))
    assert nu1 == pytest.approx(0.559601, abs=1e-6)
    nubar1 = (nu1 - 0.5) / 0.25
    res = g2rl.compute_shaping(scores, features, ["q"] * 3)
    torch.testing.assert_close(res.nu, torch.tensor([nu1, 0.5, 0.75], dtype=torch.float64), atol=1e-7, rtol=0)
    torch.testing.assert_close(
        res.nu_bar, torch.tensor([nubar1, 0.0, 1.0], dtype=torch.float64), atol=1e-6, rtol=0
    )
    eq12 = g2rl.shaped_rewards(scores, features, ["q"] * 3)
    torch.testing.assert_close(
        eq12, torch.tensor([1 + 0.5 * nubar1, 1.0, -0.5], dtype=torch.float64), atol=1e-6, rtol=0
    )
    assert eq12[0].item() == pytest.approx(1.119203, abs=1e-6)
    prose = g2rl.shaped_rewards(scores, features, ["q"] * 3, mode="prose")
    torch.testing.assert_close(
        prose, torch.tensor([1 + 0.5 * (2 * nubar1 - 1), 0.5, -1.5], dtype=torch.float64), atol=1e-6, rtol=0
    )
    assert prose[0].item() == pytest.approx(0.738406, abs=1e-6)


def spec_example():
    # worked example: m = 4, r = (+1, +1, -1, -1). Phi1 = Phi2 = e1, Phi3 = e2, Phi4 = (e1 + e2)/sqrt2, so
    # S12 = 1, S13 = S23 = 0, S14 = S24 = S34 = 1/sqrt2 (S^2 = 1/2).
    features = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [R2, R2]])
    scores = torch.tensor([1.0, 1.0, 0.0, 0.0])
    return scores, features


def test_spec_m4_example_weights_scores_and_shaping():
    scores, features = spec_example()
    # i=1: Z = e + 2/e; w12 = e^2/(e^2+2), w13 = w14 = 1/(e^2+2)
    #      nu1 = 1 - (w12 * 1 + w13 * 0 + w14 / 2) = 1.5/(e^2+2) = 0.159760; nu2 = nu1 by symmetry
    # i=3: Z = 2e + 1/e; w31 = w32 = e^2/(2e^2+1), w34 = 1/(2e^2+1); nu3 = 1 - w34/2 = 0.968311
    # i=4: every S^2 = 1/2 and the weights sum to 1: nu4 = 0.5
    # nubar = (0, 0, 1, (0.5 - nu1)/(nu3 - nu1)) = (0, 0, 1, 0.420802)
    nu1 = 1.5 / (E2 + 2)
    nu3 = 1 - 0.5 / (2 * E2 + 1)
    nubar4 = (0.5 - nu1) / (nu3 - nu1)
    assert (nu1, nu3, nubar4) == pytest.approx((0.159760, 0.968311, 0.420802), abs=1e-6)
    res = g2rl.compute_shaping(scores, features, ["g"] * 4)
    torch.testing.assert_close(
        res.nu, torch.tensor([nu1, nu1, nu3, 0.5], dtype=torch.float64), atol=1e-7, rtol=0
    )
    torch.testing.assert_close(
        res.nu_bar, torch.tensor([0.0, 0.0, 1.0, nubar4], dtype=torch.float64), atol=1e-6, rtol=0
    )
    # eq12: r~ = r + lam nubar for r = +-1 -> (1, 1, -0.5, -1 + 0.5 * 0.420802 = -0.789599)
    eq12 = g2rl.shaped_rewards(scores, features, ["g"] * 4)
    torch.testing.assert_close(
        eq12, torch.tensor([1.0, 1.0, -0.5, -1 + 0.5 * nubar4], dtype=torch.float64), atol=1e-6, rtol=0
    )
    # prose: (1 - 0.5, 1 - 0.5, -(1 + 0.5), -(1 + 0.5(2 * 0.420802 - 1))) = (0.5, 0.5, -1.5, -0.920802)
    prose = g2rl.shaped_rewards(scores, features, ["g"] * 4, mode="prose")
    torch.testing.assert_close(
        prose,
        torch.tensor([0.5, 0.5, -1.5, -(1 + 0.5 * (2 * nubar4 - 1))], dtype=torch.float64),
        atol=1e-6,
        rtol=0,
    )


def _random_batch(seed, groups=4, size=6, d=5):
    gen = torch.Generator().manual_seed(seed)
    features = torch.randn(groups * size, d, generator=gen)
    scores = torch.randint(0, 2, (groups * size,), generator=gen).float()
    scores[::7] = 0.5  # some soft scores (code pass rates)
    ids = [f"p{i // size}" for i in range(groups * size)]
    return scores, features, ids


@pytest.mark.parametrize("mode", ["eq12", "prose"])
def test_permutation_equivariance(mode):
    scores, features, ids = _random_batch(0)
    base = g2rl.shaped_rewards(scores, features, ids, mode=mode)
    # shuffles across and within groups
    perm = torch.randperm(len(ids), generator=torch.Generator().manual_seed(1))
    permuted = g2rl.shaped_rewards(scores[perm], features[perm], [ids[i] for i in perm], mode=mode)
    torch.testing.assert_close(permuted, base[perm], atol=1e-12, rtol=0)


def test_invariance_to_rescaling_features():
    scores, features, ids = _random_batch(2)
    res = g2rl.compute_shaping(scores, features, ids)
    # a different positive scale per sample
    scale = torch.rand(len(ids), 1, generator=torch.Generator().manual_seed(3)) * 100 + 0.01
    rescaled = g2rl.compute_shaping(scores, features * scale, ids)
    # exact up to the eps = 1e-8 in |Phi| + eps (norms here are >= 0.01, so within ~1e-6)
    torch.testing.assert_close(rescaled.nu, res.nu, atol=1e-6, rtol=0)
    torch.testing.assert_close(rescaled.shaped, res.shaped, atol=1e-6, rtol=0)
    assert res.nu_bar.max() > 0.99  # shaping really happened (max = 1 - O(eps))


@pytest.mark.parametrize("mode", ["eq12", "prose"])
def test_identical_features_give_no_shaping(mode):
    scores = torch.tensor([1.0, 0.0, 1.0, 0.0])
    features = torch.tensor([[0.3, -2.0, 1.0]] * 4)
    res = g2rl.compute_shaping(scores, features, ["a"] * 4, mode=mode)
    assert torch.equal(res.nu_bar, torch.zeros(4, dtype=torch.float64))
    assert torch.equal(res.shaped, res.base)


def test_bounds_and_mode_ranges():
    scores, features, ids = _random_batch(4, groups=20, size=8)
    scores = (scores > 0.5).float()  # binary r = +-1
    lam = 0.5
    eq12 = g2rl.shaped_rewards(scores, features, ids, lam=lam)
    correct = scores == 1
    assert eq12[correct].min() >= 1.0 and eq12[correct].max() <= 1 + lam  # [1, 1 + lam]
    assert eq12[~correct].min() >= -1.0 and eq12[~correct].max() <= -1 + lam  # [-1, -1 + lam]
    prose = g2rl.shaped_rewards(scores, features, ids, lam=lam, mode="prose")
    assert prose[correct].min() >= 1 - lam and prose[correct].max() <= 1 + lam
    assert prose[~correct].min() >= -1 - lam and prose[~correct].max() <= -1 + lam
    assert prose[~correct].min() < -1.0  # novel wrong answers are penalised more in prose mode
    for mode in ("eq12", "prose"):  # a large lambda makes the clip c bind
        big = g2rl.compute_shaping(scores, features, ids, lam=5.0, clip=3.0, mode=mode)
        assert big.shaped.abs().max() <= 3.0
    assert (g2rl.shaped_rewards(scores, features, ids, lam=5.0, clip=3.0).abs() == 3.0).any()


def test_uniform_groups_with_and_without_the_flag():
    gen = torch.Generator().manual_seed(5)
    features = torch.randn(8, 4, generator=gen)
    scores = torch.tensor([1.0] * 4 + [0.0, 1.0, 0.0, 0.0])  # group a all correct, group b mixed
    ids = ["a"] * 4 + ["b"] * 4
    shaped = g2rl.compute_shaping(scores, features, ids)
    assert shaped.uniform_group.tolist() == [True, False]
    assert (shaped.shaped[:4] > 1.0).any()  # default: novelty still ranks an all-correct group
    skipped = g2rl.compute_shaping(scores, features, ids, skip_uniform_groups=True)
    assert skipped.skipped_group.tolist() == [True, False]
    assert torch.equal(skipped.shaped[:4], torch.ones(4, dtype=torch.float64))  # r~ = r
    assert torch.equal(skipped.shaped[4:], shaped.shaped[4:])  # the mixed group is unaffected
    metrics = g2rl.shaping_metrics(skipped, features, ids)
    assert metrics["g2rl/uniform_group_frac"] == 0.5 and metrics["g2rl/skipped_group_frac"] == 0.5


def test_singleton_group_invalid_member_and_empty_response():
    scores, features, ids = _random_batch(6, groups=1, size=5)
    # singleton: no peers -> nu = 1, nubar = 0, r~ = r
    single = g2rl.compute_shaping(scores[:1], features[:1], ids[:1], mode="prose")
    assert (
        single.nu.item() == 1.0 and single.nu_bar.item() == 0.0 and single.shaped.item() == single.base.item()
    )
    # an invalid member and an empty response (Phi = 0) are both left out of the others' computation
    features = features.clone()
    features[3] = 0.0
    valid = torch.tensor([True, False, True, True, True])
    res = g2rl.compute_shaping(scores, features, ids, valid=valid)
    keep = [0, 2, 4]
    alone = g2rl.compute_shaping(scores[keep], features[keep], [ids[i] for i in keep])
    torch.testing.assert_close(res.shaped[keep], alone.shaped, atol=1e-12, rtol=0)
    torch.testing.assert_close(res.nu[keep], alone.nu, atol=1e-12, rtol=0)
    assert res.takes_part.tolist() == [True, False, True, False, True]
    assert res.shaped[1] == res.base[1] and res.shaped[3] == res.base[3] and res.nu_bar[3] == 0


def test_errors_name_the_sample():
    features = torch.randn(3, 2)
    with pytest.raises(ValueError, match="sample 1.*outside \\[-1, 1\\]"):
        g2rl.shaped_rewards(torch.tensor([1.0, 1.5, 0.0]), features, ["a"] * 3)
    with pytest.raises(ValueError, match="sample 2"):
        g2rl.compute_shaping(torch.tensor([1.0, 0.0, -2.0]), features, ["a"] * 3, base_reward="identity")
    bad = features.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match="Phi of sample 2 contains NaN"):
        g2rl.shaped_rewards(torch.tensor([1.0, 0.0, 1.0]), bad, ["a"] * 3)
    with pytest.raises(ValueError, match="shaping mode"):
        g2rl.shaped_rewards(torch.tensor([1.0, 0.0, 1.0]), features, ["a"] * 3, mode="eq13")


def test_geometry_metrics_by_hand():
    # group x: Phi = e1, -e1, e2 -> pair cosines -1, 0, 0: mean -1/3, one negative pair out of 3
    # group y: Phi = e1, e1 -> cosine 1
    # grad_cos_mean = (-1/3 + 1)/2 = 1/3; grad_cos_neg_frac = 1/4 (pooled pairs)
    # correct = (1, 0, 1 | 1, 1): correct pairs are (x1, x3): cos 0 and (y1, y2): cos 1 -> mean 1/2, neg 0
    features = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    ids = ["x", "x", "x", "y", "y"]
    m = g2rl.geometry_metrics(features, ids, correct=torch.tensor([1, 0, 1, 1, 1]))
    assert m["grad_cos_mean"] == pytest.approx(1 / 3, abs=1e-7)
    assert m["grad_cos_neg_frac"] == pytest.approx(0.25)
    assert m["grad_cos_mean_correct_pairs"] == pytest.approx(0.5, abs=1e-7)
    assert m["grad_cos_neg_frac_correct_pairs"] == 0.0


def test_metrics_dict_has_the_spec_keys():
    scores, features, ids = _random_batch(7)
    valid = torch.ones(len(ids), dtype=torch.bool)
    valid[0] = False
    res = g2rl.compute_shaping(scores, features, ids, valid=valid)
    metrics = g2rl.shaping_metrics(res, features, ids)
    expected = {
        "nu_mean",
        "nu_std",
        "nu_min",
        "nu_max",
        "nu_mean_correct",
        "nu_mean_incorrect",
        "nu_bar_mean",
        "base_reward_mean",
        "shaped_reward_mean",
        "shaped_minus_base_mean",
        "shaped_clip_frac",
        "uniform_group_frac",
        "skipped_group_frac",
        "grad_cos_mean",
        "grad_cos_mean_correct_pairs",
        "grad_cos_neg_frac",
        "phi_norm_mean",
        "invalid_frac",
    }
    assert {f"g2rl/{k}" for k in expected} <= set(metrics)
    assert metrics["g2rl/invalid_frac"] == pytest.approx(1 / len(ids))
    assert all(math.isfinite(v) for v in metrics.values())
