"""verl glue: the ``g2rl`` advantage estimator: G2RL-shaped rewards, then verl's own GRPO.

G2RL changes only the rewards that enter GRPO's group standardisation: the shaped reward r~
(:mod:`g2rl_verl.g2rl.shaping`) is written at the last valid response token and
``verl.trainer.ppo.core_algos.compute_grpo_outcome_advantage`` does the rest, so a G2RL run and its
GRPO baseline differ only by the shaping (with lambda = 0 the advantages are GRPO's, bit for bit).
Method and decisions: docs/methods.md, section "G2RL".

How it is called:
- our trainer (:mod:`g2rl_verl.trainer`, through :mod:`g2rl_verl.advantage`) calls
  :func:`compute_g2rl_advantage_with_metrics` with the features ``g2rl_phi`` read back from the actor's
  old-log-prob pass (:mod:`g2rl_verl.g2rl.engine`), on the final output of each agent-loop run, with
  padding and masked infrastructure failures already removed;
- :func:`register` puts :func:`compute_g2rl_advantage` into verl's ``ADV_ESTIMATOR_REGISTRY`` under
  ``g2rl`` so ``algorithm.adv_estimator=g2rl`` is a known name. verl's own ``compute_advantage`` passes
  no features, so that path raises and says to use ``python -m g2rl_verl.main``.

verl internals used (verl 0.9.1, see docs/verl-integration.md): ``core_algos.ADV_ESTIMATOR_REGISTRY``
(a plain dict) and ``core_algos.compute_grpo_outcome_advantage`` (signature; it sums the token rewards).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from g2rl_verl.g2rl import features as g2rl_features
from g2rl_verl.g2rl import shaping
from g2rl_verl.g2rl.config import G2RLConfig, get_key
from g2rl_verl.names import G2RL_ESTIMATOR

GRPO_EPSILON = 1e-6  # verl's GRPO default (unbiased std + 1e-6)


def _per_sample(values: Any, name: str, bsz: int, dtype: torch.dtype) -> torch.Tensor:
    """A [bs] CPU tensor from a tensor / array / list of numbers; clear error on missing entries or length."""
    try:
        if isinstance(values, torch.Tensor):
            out = values.detach().cpu().reshape(-1)
        else:
            out = torch.as_tensor(np.asarray(values, dtype=np.float64).reshape(-1))
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"g2rl: per-sample `{name}` must be numbers, one per response (reward extra info); got {err}"
        ) from err
    if out.numel() != bsz:
        raise ValueError(f"g2rl: `{name}` has {out.numel()} entries for {bsz} samples")
    if out.is_floating_point() and torch.isnan(out).any():  # None entries become NaN in np.asarray
        i = int(torch.nonzero(torch.isnan(out))[0])
        raise ValueError(f"g2rl: `{name}` of sample {i} is missing (None/NaN) in the reward extra info")
    if dtype == torch.bool:
        return out != 0
    return out.to(dtype)


def _last_token_rewards(values: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """[bs] -> [bs, resp_len]: the value at the last valid response token (position 0 if none)."""
    positions = torch.arange(1, response_mask.shape[1] + 1, device=response_mask.device)  # [resp_len]
    last = ((response_mask > 0).long() * positions).argmax(dim=1)  # [bs]
    out = torch.zeros(response_mask.shape, dtype=values.dtype, device=response_mask.device)  # [bs, resp_len]
    out[torch.arange(out.shape[0], device=out.device), last] = values.to(out.device)
    return out


def _check_inputs(token_level_rewards, g2rl_phi, index) -> tuple[torch.Tensor, list]:
    """Dense features [bs, d] and the group ids as a list; raises naming what is missing or misshapen."""
    if g2rl_phi is None:
        raise ValueError(
            "the g2rl advantage estimator needs the per-response features `g2rl_phi` from the actor's "
            "old-log-prob pass, which only our trainer requests: launch with `python -m g2rl_verl.main` "
            "(not verl.trainer.main_ppo)."
        )
    if index is None:
        raise ValueError("the g2rl advantage estimator needs group ids (index = non_tensor_batch['uid'])")
    phi = g2rl_features.dense_features(g2rl_phi)  # [bs, d]; TransferQueue hands it back jagged
    bsz = token_level_rewards.shape[0]
    if phi.shape[0] != bsz:
        raise ValueError(f"g2rl_phi has {phi.shape[0]} rows for {bsz} samples")
    index_list = list(index)
    if len(index_list) != bsz:
        raise ValueError(f"index has {len(index_list)} entries for {bsz} samples")
    return phi, index_list


def base_scores(token_level_rewards: torch.Tensor, score01: Any) -> tuple[torch.Tensor, str]:
    """The scores G2RL maps to its base reward r, and the mapping.

    Default (``score01`` None, what our trainer passes): r is the sequence reward GRPO would use, the sum
    of the token-level rewards, taken as is (``identity``); :func:`shaping.base_rewards` refuses values
    outside [-1, 1] naming the sample. With ``score01`` given: r = 2*score01 - 1 (``affine``).
    """
    bsz = token_level_rewards.shape[0]
    if score01 is None:
        return token_level_rewards.detach().sum(dim=-1).to("cpu", torch.float64), "identity"  # [bs]
    return _per_sample(score01, "score01", bsz, torch.float64), "affine"  # [bs]


def grpo_on_shaped_rewards(
    shaped: torch.Tensor, response_mask: torch.Tensor, index_list: list, valid: torch.Tensor, config: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """verl's GRPO on the shaped rewards; invalid samples and lone valid members get advantage 0.

    Invalid samples get a group of their own, so they do not move their group's mean/std. A valid
    member whose group has no other valid member has no baseline (verl would hand it its raw reward):
    it gets 0, like an invalid one.
    """
    bsz = shaped.shape[0]
    grpo_index = np.empty(bsz, dtype=object)
    valid_count: dict = {}
    for i, uid in enumerate(index_list):
        grpo_index[i] = uid if bool(valid[i]) else ("__g2rl_invalid__", i)
        valid_count[uid] = valid_count.get(uid, 0) + int(bool(valid[i]))
    from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage

    advantages, returns = compute_grpo_outcome_advantage(
        token_level_rewards=_last_token_rewards(shaped, response_mask),
        response_mask=response_mask,
        index=grpo_index,
        epsilon=GRPO_EPSILON,
        norm_adv_by_std_in_grpo=bool(get_key(config, "norm_adv_by_std_in_grpo", True)),
        config=config,
    )
    lone = torch.tensor([valid_count[uid] < 2 for uid in index_list], dtype=torch.bool)  # [bs]
    no_baseline = ((~valid) | lone).to(advantages.device).unsqueeze(1)  # [bs, 1]
    return advantages.masked_fill(no_baseline, 0.0), returns.masked_fill(no_baseline, 0.0)  # [bs, resp_len] x2


def compute_g2rl_advantage_with_metrics(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray | list | None = None,
    config: Any = None,
    *,
    g2rl_phi: torch.Tensor | None = None,
    score01: torch.Tensor | None = None,
    valid: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """G2RL advantages, returns ([bs, resp_len] each) and the ``g2rl/*`` metrics of the batch.

    Args:
        token_level_rewards: [bs, resp_len] verl's token-level rewards; their sum is the base reward r
            unless ``score01`` is given.
        response_mask: [bs, resp_len].
        index: [bs] group ids (verl's ``uid``).
        config: the ``algorithm`` config (DictConfig): ``g2rl.*`` and ``norm_adv_by_std_in_grpo``.
        g2rl_phi: [bs, d] features from the old-log-prob pass (required; dense, or jagged rows of length d
            as verl returns them).
        score01: optional [bs] correctness scores in [0, 1]; then r = 2*score01 - 1.
        valid: [bs] 0/1; invalid samples are left out of their group's peers, min-max and GRPO
            statistics, and get advantage 0. None: all valid.
    """
    phi, index_list = _check_inputs(token_level_rewards, g2rl_phi, index)
    cfg = G2RLConfig.from_algorithm(config)
    bsz = token_level_rewards.shape[0]
    scores, mapping = base_scores(token_level_rewards, score01)
    valid_b = torch.ones(bsz, dtype=torch.bool) if valid is None else _per_sample(valid, "valid", bsz, torch.bool)
    nonempty = (response_mask.detach().cpu() > 0).any(dim=1)  # [bs] L_i > 0

    result = shaping.compute_shaping(
        scores,
        phi * nonempty.to(phi.device).unsqueeze(1),  # [bs, d] empty responses: Phi = 0
        index_list,
        valid=valid_b,
        lam=float(cfg.shaping_lambda),
        mode=cfg.shaping_mode,
        clip=float(cfg.reward_clip),
        skip_uniform_groups=cfg.skip_uniform_groups,
        eps=float(cfg.eps),
        base_reward=mapping,
    )
    shaped = result.shaped.to(token_level_rewards.dtype)  # [bs]
    advantages, returns = grpo_on_shaped_rewards(shaped, response_mask, index_list, valid_b, config)
    metrics = shaping.shaping_metrics(result, phi, index_list)
    frac = incorrect_positive_advantage_frac(advantages, response_mask, result.base, valid_b & nonempty)
    if frac is not None:
        metrics["g2rl/incorrect_pos_adv_frac"] = frac
    return advantages, returns, metrics


def incorrect_positive_advantage_frac(
    advantages: torch.Tensor, response_mask: torch.Tensor, base: torch.Tensor, counted: torch.Tensor
) -> float | None:
    """Share of the counted incorrect responses (base reward <= 0) whose advantage is positive, i.e. that
    the update makes more likely. Plain GRPO gives none (an incorrect response is below its group's mean,
    or in an all-incorrect group at 0); under eq12 shaping, novel incorrect ones can be.

    advantages, response_mask: [bs, resp_len]; base: [bs] base rewards r; counted: [bs] bool."""
    tokens = response_mask.sum(dim=1).clamp(min=1)  # [bs]
    per_sample = (advantages * response_mask).sum(dim=1) / tokens  # [bs] the broadcast advantage
    chosen = counted.to(base.device) & (base <= 0)  # [bs]
    if not bool(chosen.any()):
        return None
    return float((per_sample.to(base.device)[chosen] > 0).double().mean())


def compute_g2rl_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray | list | None = None,
    config: Any = None,
    *,
    g2rl_phi: torch.Tensor | None = None,
    score01: torch.Tensor | None = None,
    valid: torch.Tensor | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """verl advantage-estimator signature (``ADV_ESTIMATOR_REGISTRY['g2rl']``): (advantages, returns)."""
    advantages, returns, _ = compute_g2rl_advantage_with_metrics(
        token_level_rewards, response_mask, index, config, g2rl_phi=g2rl_phi, score01=score01, valid=valid
    )
    return advantages, returns


def register() -> None:
    """Register ``g2rl`` in verl's ``ADV_ESTIMATOR_REGISTRY``. Idempotent; refuses to replace another object."""
    from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY

    from g2rl_verl.registry_guard import register_once

    register_once(
        ADV_ESTIMATOR_REGISTRY, G2RL_ESTIMATOR, compute_g2rl_advantage, registry_name="ADV_ESTIMATOR_REGISTRY"
    )
