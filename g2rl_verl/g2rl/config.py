"""`G2RLConfig`: the validated ``algorithm.g2rl.*`` keys (defaults in g2rl_verl/config/g2rl_trainer.yaml).

Meaning of each key and the paper values: docs/methods.md, section "G2RL: hyperparameters".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from g2rl_verl.g2rl.shaping import SHAPING_MODES

# Keys that existed once; refused with the reason instead of a bare "unknown key".
_REMOVED_KEYS = {
    "enable": "G2RL is switched on by algorithm.adv_estimator=g2rl (and off by any other estimator, e.g. grpo). "
    "Remove algorithm.g2rl.enable.",
    "base_reward": "G2RL's base reward is the sequence reward GRPO uses (docs/methods.md, 'G2RL: base reward'); "
    "choose it with the reward profile (reward.custom_reward_function.reward_kwargs.profile). "
    "Remove algorithm.g2rl.base_reward.",
}


class G2RLConfigError(ValueError):
    """A G2RL setting is invalid; the message names the config key and how to fix it."""


@dataclass(frozen=True)
class G2RLConfig:
    """``algorithm.g2rl.*``."""

    shaping_mode: str = "eq12"
    shaping_lambda: float = 0.5
    reward_clip: float = 3.0
    eps: float = 1e-8
    skip_uniform_groups: bool = False
    feature_chunk_tokens: int = 2048

    @classmethod
    def from_algorithm(cls, algorithm_cfg: Any) -> G2RLConfig:
        """Read and validate ``algorithm.g2rl`` (a DictConfig/dict, or None for all defaults)."""
        section = None if algorithm_cfg is None else get_key(algorithm_cfg, "g2rl")
        if section is None:
            return cls()
        values = dict(section.items()) if hasattr(section, "items") else None
        if values is None:
            raise G2RLConfigError(f"algorithm.g2rl must be a mapping, got {type(section).__name__}")
        for key, why in _REMOVED_KEYS.items():
            if key in values:
                raise G2RLConfigError(f"algorithm.g2rl.{key} is not a key (use algorithm.adv_estimator=g2rl): {why}")
        known = {f.name for f in fields(cls)}
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

        if self.shaping_mode not in SHAPING_MODES:
            fail("shaping_mode", f"must be one of {list(SHAPING_MODES)}")
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


def get_key(cfg: Any, key: str, default: Any = None) -> Any:
    """``cfg[key]`` for a DictConfig / dict / dataclass, ``default`` when absent or cfg is None."""
    if cfg is None:
        return default
    if hasattr(cfg, "get"):
        return cfg.get(key, default)
    return getattr(cfg, key, default)


def _plain(value: Any) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
