"""Validated reward options (`reward.custom_reward_function.reward_kwargs.*`; docs/rewards.md, "verl adapter").

verl merges `reward_kwargs` into every call, so `RewardConfig.from_kwargs` runs per call; it is cheap and
rejects typos (an unknown key names itself and lists the valid ones).

Per-data_source defaults (only where the key is not given explicitly):
- Klear-Reasoner's data_source names (`math_longcot_math_verify*`, `coder1_longcot*`) default to
  `profile=klear` and `think_mode=require_both`, so Klear's released parquet files train unchanged.
- The `klear` profile (by default or explicitly) also scores code as Klear's reward does: whole-output
  comparison after `strip()` (`compare=strip`) and list-valued stdin/stdout entries joined with ", ".
- Every other name defaults to `profile=g2rl` and `think_mode=none`.
An explicit `profile` / `think_mode` kwarg always wins.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sandbox.api import BACKEND_NAMES

PROFILES = ("klear", "g2rl", "binary")
THINK_MODES = ("require_both", "prompt_opens_think", "none")
EXTRACTIONS = ("strict", "mathverify")
COMPARES = ("lines", "lines_float", "strip", "lcb")
CODE_REWARDS = ("soft", "hard")
MODES = ("train", "eval")
INFRA_FAILURE_POLICIES = ("wrong", "mask")
SANDBOX_BACKENDS = BACKEND_NAMES  # the sandbox's backend registry (sandbox/api.py)

KLEAR_DATA_SOURCE_PREFIXES = ("math_longcot_math_verify", "coder1_longcot")

# Keys verl itself may add to every call (its reward loop injects them); accepted and ignored.
VERL_INJECTED_KEYS = frozenset({"reward_router_address", "reward_model_tokenizer"})


def is_klear_data_source(data_source: str) -> bool:
    return data_source.startswith(KLEAR_DATA_SOURCE_PREFIXES)


@dataclass(frozen=True)
class RewardConfig:
    # scoring
    profile: str | None = None  # None -> per-data_source default (module docstring)
    think_mode: str | None = None  # None -> per-data_source default
    extraction: str = "strict"
    # Both policies emit the profile's wrong value as `score` with `valid = 0` (verl never sees NaN) and
    # share the failure-rate guard (infra.py). `mask` additionally asks the TRAINER to zero the loss mask
    # of valid == 0 samples and leave them out of group statistics; the reward function cannot do that
    # itself, so `mask` only has an effect with a trainer that reads it (docs/verl-integration.md,
    # "Infrastructure failures on the training side").
    infra_failure: str = "wrong"
    max_infra_failure_rate: float = 0.05
    infra_failure_window: int = 256  # most recent results the rate is computed over
    infra_failure_min_samples: int = 32  # no verdict on the rate before this many results
    # math-verify (inner timeouts are passed to signal.alarm: ints only)
    math_pool_size: int = 4
    math_parse_timeout_s: int = 5
    math_verify_timeout_s: int = 5
    math_deadline_s: float = 30.0  # parent-enforced hard deadline per pool task
    # code
    mode: str = "train"  # eval: always run every test (no subsetting)
    compare: str | None = None  # None -> per-profile default: strip (klear, as Klear compares), else lines
    code_reward: str = "soft"
    max_test_cases: int | None = 16  # train default K when the spec has no max_test_cases; None: all
    subset_salt: str = ""
    code_cpu_s: float | None = None  # None -> spec "timeout", else 35 s (klear) / 6 s
    code_memory_mb: int = 1024
    code_deadline_s: float | None = None  # None -> sum of per-test wall caps + 30 s
    sandbox_backend: str = "local"
    sandbox_url: str | None = None

    def __post_init__(self) -> None:
        _check_choice("profile", self.profile, PROFILES, allow_none=True)
        _check_choice("think_mode", self.think_mode, THINK_MODES, allow_none=True)
        _check_choice("extraction", self.extraction, EXTRACTIONS)
        _check_choice("infra_failure", self.infra_failure, INFRA_FAILURE_POLICIES)
        _check_choice("mode", self.mode, MODES)
        _check_choice("compare", self.compare, COMPARES, allow_none=True)
        _check_choice("code_reward", self.code_reward, CODE_REWARDS)
        _check_choice("sandbox_backend", self.sandbox_backend, SANDBOX_BACKENDS)
        if not 0.0 <= self.max_infra_failure_rate <= 1.0:
            raise ValueError(
                f"reward_kwargs.max_infra_failure_rate={self.max_infra_failure_rate!r} must be in [0, 1]"
            )
        for name in ("math_parse_timeout_s", "math_verify_timeout_s"):
            value = getattr(self, name)
            # math-verify feeds these to signal.alarm: a float is swallowed inside math-verify and turns
            # every verdict into a silent 0, so refuse anything but a positive int.
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"reward_kwargs.{name}={value!r} must be a positive int (math-verify uses signal.alarm, "
                    "which silently breaks on floats); round it to whole seconds"
                )
        for name in ("math_pool_size", "infra_failure_window", "infra_failure_min_samples", "code_memory_mb"):
            _check_positive_int(name, getattr(self, name))
        if self.max_test_cases is not None:
            _check_positive_int("max_test_cases", self.max_test_cases)
        for name in ("math_deadline_s", "code_cpu_s", "code_deadline_s"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0
            ):
                raise ValueError(f"reward_kwargs.{name}={value!r} must be a positive number of seconds")
        if self.math_deadline_s <= 2 * self.math_parse_timeout_s + self.math_verify_timeout_s:
            raise ValueError(
                f"reward_kwargs.math_deadline_s={self.math_deadline_s} must exceed the inner worst case "
                f"2*math_parse_timeout_s + math_verify_timeout_s = "
                f"{2 * self.math_parse_timeout_s + self.math_verify_timeout_s} s, or healthy slow calls "
                "would be killed as hangs"
            )
        if self.sandbox_backend == "http" and not self.sandbox_url:
            raise ValueError(
                "reward_kwargs.sandbox_backend=http needs reward_kwargs.sandbox_url=http://host:port"
            )

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> RewardConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(k for k in kwargs if k not in known and k not in VERL_INJECTED_KEYS)
        if unknown:
            raise ValueError(
                f"unknown reward_kwargs {unknown}; valid keys: {sorted(known)} "
                "(set them under reward.custom_reward_function.reward_kwargs)"
            )
        return cls(**{k: v for k, v in kwargs.items() if k in known})

    def resolved_profile(self, data_source: str) -> str:
        if self.profile is not None:
            return self.profile
        return "klear" if is_klear_data_source(data_source) else "g2rl"

    def resolved_compare(self, data_source: str) -> str:
        if self.compare is not None:
            return self.compare
        return "strip" if self.resolved_profile(data_source) == "klear" else "lines"

    def resolved_think_mode(self, data_source: str) -> str:
        if self.think_mode is not None:
            return self.think_mode
        return "require_both" if is_klear_data_source(data_source) else "none"


def _check_choice(name: str, value: Any, choices: tuple[str, ...], allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value not in choices:
        raise ValueError(f"reward_kwargs.{name}={value!r} is not one of {list(choices)}")


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"reward_kwargs.{name}={value!r} must be a positive int")
