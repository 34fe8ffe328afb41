"""The ``g2rl`` advantage estimator for verl 0.9.1: G2RL-shaped rewards, then verl's own GRPO.

G2RL changes only the rewards that enter GRPO's group standardisation (g2rl.md §2.10): the shaped
reward r~ (:mod:`g2rl_verl.g2rl`) is written at the last valid response token and
``verl.trainer.ppo.core_algos.compute_grpo_outcome_advantage`` does the rest, so a G2RL run and its
GRPO baseline differ only by the shaping (with lambda = 0 the advantages are GRPO's, bit for bit).

How it is called:
- our trainer (``g2rl_verl.trainer``) calls :func:`compute_g2rl_advantage_with_metrics` with the
  per-sample features ``g2rl_phi`` it read back from the actor's old-log-prob pass (see
  :mod:`g2rl_verl.g2rl_engine`), plus ``score01`` and ``valid`` from the reward extra info;
- :func:`register` puts :func:`compute_g2rl_advantage` into verl's ``ADV_ESTIMATOR_REGISTRY`` under
  ``g2rl`` so ``algorithm.adv_estimator=g2rl`` is a known name. verl's own ``compute_advantage`` passes
  no features, so that path raises and says to use ``python -m g2rl_verl.main``.

Hyperparameters: ``algorithm.g2rl.*`` (:class:`G2RLConfig`); ``algorithm.norm_adv_by_std_in_grpo``.

verl internals used (pinned to verl 0.9.1): ``core_algos.ADV_ESTIMATOR_REGISTRY`` (a plain dict),
``core_algos.compute_grpo_outcome_advantage`` (signature and its sum-over-tokens of the rewards).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from g2rl_verl import g2rl

logger = logging.getLogger(__name__)

ESTIMATOR_NAME = "g2rl"
GRPO_EPSILON = 1e-6  # verl's GRPO default (unbiased std + 1e-6), g2rl.md §2.10
_warned_score_fallback = False


class G2RLConfigError(ValueError):
    """A G2RL setting is invalid; the message names the config key and how to fix it."""


@dataclass(frozen=True)
class G2RLConfig:
    """``algorithm.g2rl.*`` (integration contract; g2rl.md §4.7)."""

    shaping_mode: str = "eq12"
    shaping_lambda: float = 0.5
    reward_clip: float = 3.0
    eps: float = 1e-8
    skip_uniform_groups: bool = False
    feature_chunk_tokens: int = 2048
    base_reward: str = "affine"

    @classmethod
    def from_algorithm(cls, algorithm_cfg: Any) -> G2RLConfig:
        """Read and validate ``algorithm.g2rl`` (a DictConfig/dict, or None for all defaults)."""
        section = None if algorithm_cfg is None else _get(algorithm_cfg, "g2rl")
        if section is None:
            return cls()
        values = dict(section.items()) if hasattr(section, "items") else None
        if values is None:
            raise G2RLConfigError(f"algorithm.g2rl must be a mapping, got {type(section).__name__}")
        known = {f.name for f in fields(cls)}
        if "enable" in values:
            raise G2RLConfigError(
                "algorithm.g2rl.enable is not a key: G2RL is switched on by algorithm.adv_estimator=g2rl "
                "(and off by any other estimator, e.g. grpo). Remove algorithm.g2rl.enable."
            )
        unknown = sorted(set(values) - known)
        if unknown:
            raise G2RLConfigError(
                f"unknown key(s) algorithm.g2rl.{', algorithm.g2rl.'.join(unknown)}; valid keys: {sorted(known)}"
            )
        cfg = cls(**{k: _plain(v) for k, v in values.items()})
        cfg.validate()
        return cfg

    def validate(self) -> None:
        def fail(key: str, why: str) -> None:
            raise G2RLConfigError(f"algorithm.g2rl.{key}={getattr(self, key)!r}: {why}")

        if self.shaping_mode not in g2rl.SHAPING_MODES:
            fail("shaping_mode", f"must be one of {list(g2rl.SHAPING_MODES)}")
        if self.base_reward not in g2rl.BASE_REWARD_MAPPINGS:
            fail(
                "base_reward", f"must be one of {list(g2rl.BASE_REWARD_MAPPINGS)} (affine: r = 2*score01 - 1)"
            )
        if not _is_number(self.shaping_lambda) or not (
            math.isfinite(self.shaping_lambda) and self.shaping_lambda >= 0
        ):
            fail("shaping_lambda", "must be a finite number >= 0 (0 reproduces GRPO)")
        if not _is_number(self.reward_clip) or not (self.reward_clip >= 1):
            fail("reward_clip", "must be a number >= 1 (base rewards lie in [-1, 1]; the paper uses 3)")
        if not _is_number(self.eps) or not (0 < self.eps < 1e-2):
            fail("eps", "must be a small positive number (1e-8)")
        if not isinstance(self.skip_uniform_groups, bool):
            fail("skip_uniform_groups", "must be true or false")
        if (
            isinstance(self.feature_chunk_tokens, bool)
            or not isinstance(self.feature_chunk_tokens, int)
            or (self.feature_chunk_tokens < 1)
        ):
            fail("feature_chunk_tokens", "must be an integer >= 1 (rows of logits softmaxed at once)")


def _get(cfg: Any, key: str, default: Any = None) -> Any:
    if cfg is None:
        return default
    if hasattr(cfg, "get"):
        return cfg.get(key, default)
    return getattr(cfg, key, default)


def _plain(value: Any) -> Any:
    try:
        from omegaconf import OmegaConf

        if OmegaConf.is_config(value):
            return OmegaConf.to_container(value, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf ships with verl
        pass
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate_g2rl_config(algorithm_cfg: Any, actor_rollout_ref_cfg: Any) -> None:
    """Startup checks for ``algorithm.adv_estimator=g2rl``; raises :class:`G2RLConfigError` naming the key.

    Does nothing when another estimator is selected (except rejecting a stray ``algorithm.g2rl.enable``).
    """
    estimator = _get(algorithm_cfg, "adv_estimator")
    if estimator != ESTIMATOR_NAME:
        section = _get(algorithm_cfg, "g2rl")
        if section is not None and _get(section, "enable") is not None:
            raise G2RLConfigError(
                "algorithm.g2rl.enable is not a key: set algorithm.adv_estimator=g2rl to switch G2RL on."
            )
        return
    G2RLConfig.from_algorithm(algorithm_cfg)

    if _get(algorithm_cfg, "use_kl_in_reward", False):
        raise G2RLConfigError(
            "algorithm.use_kl_in_reward=true with algorithm.adv_estimator=g2rl: G2RL replaces the token-level "
            "rewards by the shaped outcome reward, which would drop the KL penalty. Use the KL loss instead "
            "(actor_rollout_ref.actor.use_kl_loss=true) and set algorithm.use_kl_in_reward=false."
        )
    rollout_corr = _get(algorithm_cfg, "rollout_correction")
    if rollout_corr is not None and _get(rollout_corr, "bypass_mode", False):
        raise G2RLConfigError(
            "algorithm.rollout_correction.bypass_mode=true skips the old-log-prob pass, where G2RL computes its "
            "features from pi_old (g2rl.md §4.1). Set algorithm.rollout_correction.bypass_mode=false."
        )
    model = _get(actor_rollout_ref_cfg, "model")
    if _get(model, "use_fused_kernels", False):
        raise G2RLConfigError(
            "actor_rollout_ref.model.use_fused_kernels=true: fused kernels never materialise the logits, and "
            "G2RL features need the full next-token distributions p_t of the old-log-prob pass. Set "
            "actor_rollout_ref.model.use_fused_kernels=false."
        )
    actor = _get(actor_rollout_ref_cfg, "actor")
    strategy = _get(actor, "strategy")
    if strategy != "fsdp2":
        hint = " Megatron is not supported by G2RL." if strategy == "megatron" else ""
        raise G2RLConfigError(
            f"actor_rollout_ref.actor.strategy={strategy!r}: G2RL features are computed in verl's FSDP2 engine "
            f"(g2rl_verl.g2rl_engine); FSDP1 would need the sharded lm-head gathered another way.{hint} "
            "Set actor_rollout_ref.actor.strategy=fsdp2."
        )
    rollout = _get(actor_rollout_ref_cfg, "rollout")
    n = _get(rollout, "n", None)
    if n is not None and int(n) < 2:
        raise G2RLConfigError(
            f"actor_rollout_ref.rollout.n={n}: G2RL compares responses within a group; with one response per "
            "prompt nothing is shaped. Set actor_rollout_ref.rollout.n >= 2 (the paper uses 16)."
        )


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
        token_level_rewards: [bs, resp_len] verl's token-level rewards; used only when ``score01`` is None.
        response_mask: [bs, resp_len].
        index: [bs] group ids (verl's ``uid``).
        config: the ``algorithm`` config (DictConfig): ``g2rl.*`` and ``norm_adv_by_std_in_grpo``.
        g2rl_phi: [bs, d] features from the old-log-prob pass (required; dense, or jagged rows of length d
            as verl returns them).
        score01: [bs] correctness scores in [0, 1] (reward extra info). If None, the base reward is
            taken as the token-level reward sum (right under the rewards' ``g2rl`` profile, whose score
            is already 2*score01 - 1); a warning is logged once.
        valid: [bs] 0/1; invalid samples (infrastructure failures) are left out of their group's
            peers, min-max and GRPO statistics, and get advantage 0.
    """
    global _warned_score_fallback
    if g2rl_phi is None:
        raise ValueError(
            "the g2rl advantage estimator needs the per-response features `g2rl_phi` from the actor's "
            "old-log-prob pass, which only our trainer requests: launch with `python -m g2rl_verl.main` "
            "(not verl.trainer.main_ppo)."
        )
    if index is None:
        raise ValueError("the g2rl advantage estimator needs group ids (index = non_tensor_batch['uid'])")
    cfg = G2RLConfig.from_algorithm(config)
    g2rl_phi = g2rl.dense_features(g2rl_phi)  # [bs, d]; TransferQueue hands it back jagged
    bsz = token_level_rewards.shape[0]
    if g2rl_phi.shape[0] != bsz:
        raise ValueError(f"g2rl_phi has {g2rl_phi.shape[0]} rows for {bsz} samples")
    index_list = list(index)
    if len(index_list) != bsz:
        raise ValueError(f"index has {len(index_list)} entries for {bsz} samples")

    if score01 is None:
        base_scores = token_level_rewards.detach().sum(dim=-1).to(torch.float64)  # [bs] already r
        mapping = "identity"
        if not _warned_score_fallback:
            logger.warning(
                "g2rl: no score01 given; using the token-level reward sum as the base reward r (correct for the "
                "rewards' `g2rl` profile, r = 2*score01 - 1). Infrastructure-failure masking needs `valid`."
            )
            _warned_score_fallback = True
    else:
        base_scores = _per_sample(score01, "score01", bsz, torch.float64)  # [bs]
        mapping = cfg.base_reward
    valid_b = (
        torch.ones(bsz, dtype=torch.bool) if valid is None else _per_sample(valid, "valid", bsz, torch.bool)
    )
    nonempty = (response_mask.detach().cpu() > 0).any(dim=1)  # [bs] L_i > 0

    result = g2rl.compute_shaping(
        base_scores,
        g2rl_phi * nonempty.to(g2rl_phi.device).unsqueeze(1),  # [bs, d] empty responses: Phi = 0 (§4.6)
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
    rewards = _last_token_rewards(shaped, response_mask)  # [bs, resp_len]

    # Invalid samples get a group of their own, so they do not move their group's mean/std.
    grpo_index = np.empty(bsz, dtype=object)
    for i, uid in enumerate(index_list):
        grpo_index[i] = uid if bool(valid_b[i]) else ("__g2rl_invalid__", i)

    from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage

    advantages, returns = compute_grpo_outcome_advantage(
        token_level_rewards=rewards,
        response_mask=response_mask,
        index=grpo_index,
        epsilon=GRPO_EPSILON,
        norm_adv_by_std_in_grpo=bool(_get(config, "norm_adv_by_std_in_grpo", True)),
        config=config,
    )
    invalid = (~valid_b).to(advantages.device)  # [bs]
    advantages = advantages.masked_fill(invalid.unsqueeze(1), 0.0)  # [bs, resp_len]
    returns = returns.masked_fill(invalid.unsqueeze(1), 0.0)  # [bs, resp_len]
    metrics = g2rl.shaping_metrics(result, g2rl_phi, index_list)
    return advantages, returns, metrics


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
        ADV_ESTIMATOR_REGISTRY, ESTIMATOR_NAME, compute_g2rl_advantage, registry_name="ADV_ESTIMATOR_REGISTRY"
    )
