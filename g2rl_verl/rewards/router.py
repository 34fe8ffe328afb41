"""Reward entry points: data_source routing + profile scoring + the flat dict verl logs (docs/rewards.md,
"Routing" and "verl adapter").

verl 0.9.1 wiring (verified against `verl/trainer/ppo/reward.py::get_custom_reward_fn` and
`verl/utils/import_utils.py::load_module`): `path` accepts `pkg://dotted.module` (imported with
`importlib.import_module`, so the installed package is used) or a file path; `name` is looked up with
`getattr`. `get_custom_reward_fn` checks `inspect.iscoroutinefunction` and verl's `naive` reward manager
(`verl/experimental/reward_loop/reward_manager/naive.py::run_single`) awaits async functions directly,
while sync ones run in the loop's default thread pool. Use the async entry point:

    reward:
      reward_manager: {name: naive}
      custom_reward_function:
        path: pkg://g2rl_verl.rewards.router
        name: compute_score_async
        reward_kwargs: {profile: klear, think_mode: require_both, extraction: strict, ...}  # RewardConfig

verl merges `reward_kwargs` into every call (they take precedence) and may add `reward_router_address` /
`reward_model_tokenizer`, which are accepted and ignored.

Returned dict, same keys for every sample: score, acc, score01, valid, kind, kind_id, n_selected,
n_passed, latency_s, pred. verl stacks each key into a numpy array (`agent_loop.py`, `reward_loop.py`)
and its validation metrics skip string-valued keys (`metric_utils.process_validation_metrics`), so the
string `kind` is logged in dumps without breaking aggregation, exactly like `pred` (which maj@N reads);
`kind_id` is the numeric twin for metrics. `pred` is "" when nothing was extracted.

`valid` is 0 exactly for infrastructure failures (a crashed or unavailable pool or sandbox, a bad gold, a
bad test spec): failures the candidate cannot cause. A timeout the candidate's answer caused is
`kind=timeout` with `valid=1` and the profile's wrong score, so a policy cannot escape its penalty by
writing answers that time out (docs/rewards.md, "Infrastructure failures: who caused it").

`extra_info` may be a dict, None, or what a parquet round trip makes of a dict (a 0-d numpy object array
holding it); anything else is scored `error/bad_extra_info` with the type in the detail.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from g2rl_verl import node_marker

from . import code_verifier, math_verifier, mc_verifier  # noqa: F401 - register the built-in verifiers
from .config import RewardConfig
from .infra import INFRA_MONITOR
from .profiles import profile_score
from .registry import VerifyRequest, known_routes, resolve
from .result import Kind, VerifyResult

logger = logging.getLogger(__name__)

VERL_KEYS = (
    "score",
    "acc",
    "score01",
    "valid",
    "kind",
    "kind_id",
    "n_selected",
    "n_passed",
    "latency_s",
    "pred",
)


@dataclass(frozen=True)
class ScoredSample:
    """A verifier result plus its profile score: what the eval harness consumes."""

    result: VerifyResult
    score: float
    profile: str

    def to_dict(self) -> dict:
        r = self.result
        return {
            "score": float(self.score),
            "acc": r.acc,
            "score01": float(r.score01),
            "valid": 1.0 if r.valid else 0.0,
            "kind": r.kind.value,
            "kind_id": r.kind.id,
            "n_selected": int(r.n_selected),
            "n_passed": int(r.n_passed),
            "latency_s": float(r.latency_s),
            "pred": r.pred if r.pred is not None else "",
        }


def coerce_extra_info(extra_info: Any) -> dict | str:
    """extra_info as a dict, or the reason it cannot be one."""
    if hasattr(extra_info, "ndim") and getattr(extra_info, "ndim", None) == 0 and hasattr(extra_info, "item"):
        extra_info = extra_info.item()  # a dict inside a 0-d numpy object array (parquet round trip)
    if extra_info is None:
        return {}
    if isinstance(extra_info, Mapping):
        return dict(extra_info)
    return (
        f"extra_info must be a dict (or None), got {type(extra_info).__name__}; "
        "store it as a struct/dict column in the parquet"
    )


def _request(
    data_source, solution_str, ground_truth, extra_info, kwargs
) -> tuple[VerifyRequest, VerifyResult | None]:
    """The request, and the error result when it cannot be scored at all (bad extra_info)."""
    cfg = RewardConfig.from_kwargs(kwargs)
    if not isinstance(data_source, str):
        raise TypeError(f"data_source must be a str, got {type(data_source).__name__}")
    if not isinstance(solution_str, str):
        raise TypeError(f"solution_str must be a str, got {type(solution_str).__name__}")
    extra = coerce_extra_info(extra_info)
    if isinstance(extra, str):
        bad = VerifyResult(Kind.ERROR, detail=f"bad_extra_info: {extra}")
        return VerifyRequest(data_source, solution_str, ground_truth, {}, cfg), bad
    return VerifyRequest(data_source, solution_str, ground_truth, extra, cfg), None


def _internal_error(request: VerifyRequest, exc: BaseException) -> VerifyResult:
    logger.exception("reward verifier crashed on data_source=%s", request.data_source)
    return VerifyResult(Kind.ERROR, detail=f"internal_error: {type(exc).__name__}")


def _finish(request: VerifyRequest, result: VerifyResult, start: float) -> ScoredSample:
    result.latency_s = time.perf_counter() - start
    INFRA_MONITOR.record(result, request.config)
    return ScoredSample(result, profile_score(result, request.profile), request.profile)


async def verify_async(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None, **kwargs: Any
) -> ScoredSample:
    """Structured async scoring. Raises only for configuration errors (bad kwargs, unknown data_source)
    and when the infrastructure-failure rate is exceeded (infra.py)."""
    start = time.perf_counter()
    request, result = _request(data_source, solution_str, ground_truth, extra_info, kwargs)
    verifier = resolve(data_source)
    try:
        if result is not None:
            pass
        elif verifier.is_async:
            result = await verifier.fn(request)
        else:
            result = await asyncio.get_running_loop().run_in_executor(_SYNC_VERIFIERS, verifier.fn, request)
    except Exception as exc:  # noqa: BLE001 - never lose a sample to a verifier bug; it is counted
        result = _internal_error(request, exc)
    return _finish(request, result, start)


def verify(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None, **kwargs: Any
) -> ScoredSample:
    """Blocking twin of `verify_async`, safe from any thread (including one running an event loop)."""
    start = time.perf_counter()
    request, result = _request(data_source, solution_str, ground_truth, extra_info, kwargs)
    verifier = resolve(data_source)
    try:
        if result is not None:
            pass
        elif verifier.is_async:
            result = _background_loop().run(verifier.fn(request))
        else:
            result = verifier.fn(request)
    except Exception as exc:  # noqa: BLE001
        result = _internal_error(request, exc)
    return _finish(request, result, start)


async def compute_score_async(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None, **kwargs: Any
) -> dict:
    """verl's `custom_reward_function` (name: compute_score_async). See the module docstring."""
    return (await verify_async(data_source, solution_str, ground_truth, extra_info, **kwargs)).to_dict()


def compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None, **kwargs: Any
) -> dict:
    """Synchronous entry point with the same result as `compute_score_async`."""
    return verify(data_source, solution_str, ground_truth, extra_info, **kwargs).to_dict()


# -- plumbing -------------------------------------------------------------------------------------------

_SYNC_VERIFIERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="g2rl-verifier")


class _BackgroundLoop:
    """An event loop on a daemon thread, so sync callers can run async verifiers from any thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="g2rl-reward-loop", daemon=True)
        self.thread.start()

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()


_BACKGROUND: dict[int, _BackgroundLoop] = {}
_BACKGROUND_LOCK = threading.Lock()


def _background_loop() -> _BackgroundLoop:
    pid = os.getpid()  # a forked child must start its own loop thread
    with _BACKGROUND_LOCK:
        if pid not in _BACKGROUND:
            _BACKGROUND[pid] = _BackgroundLoop()
        return _BACKGROUND[pid]


def _verifier_names() -> str:
    exact, prefixes = known_routes()
    return ",".join(sorted(set(exact.values()) | set(prefixes.values())))


# One line per Ray worker naming its node (docs/cluster.md): shows the router loaded on every node.
node_marker.announce(f"reward router loaded, verifiers {_verifier_names()}")
