"""Rewards for verl's reward loop: math (math-verify in a process pool), sandboxed code, multiple choice.

Entry points (router.py): `compute_score` / `compute_score_async` return verl's flat dict;
`verify` / `verify_async` return the structured `ScoredSample` (VerifyResult + profile score).
New reward types: `@register_verifier(name, data_sources=[...], prefixes=[...])` (registry.py).
"""

from .config import RewardConfig
from .infra import INFRA_MONITOR, InfraFailureMonitor, InfraFailureRateExceeded
from .math_extract import canonical_answer, extract_strict
from .registry import UnknownDataSource, VerifyRequest, known_routes, register_verifier, resolve
from .result import KIND_BY_ID, Kind, VerifyResult
from .router import VERL_KEYS, ScoredSample, compute_score, compute_score_async, verify, verify_async

__all__ = [
    "INFRA_MONITOR",
    "KIND_BY_ID",
    "VERL_KEYS",
    "InfraFailureMonitor",
    "InfraFailureRateExceeded",
    "Kind",
    "RewardConfig",
    "ScoredSample",
    "UnknownDataSource",
    "VerifyRequest",
    "VerifyResult",
    "canonical_answer",
    "compute_score",
    "compute_score_async",
    "extract_strict",
    "known_routes",
    "register_verifier",
    "resolve",
    "verify",
    "verify_async",
]
