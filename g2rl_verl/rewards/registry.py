"""data_source -> verifier routing (docs/rewards.md, "Routing").

A verifier is one decorated function taking a `VerifyRequest` and returning a `VerifyResult` (sync or
`async def`; sync verifiers run in a thread when called from the async entry point):

    @register_verifier("my_type", data_sources=["my_dataset"], prefixes=["my_dataset_"])
    def verify_my_type(request: VerifyRequest) -> VerifyResult:
        ...

Resolution: exact names first, then the longest matching prefix; case-sensitive. An unknown data_source
raises `UnknownDataSource`, whose message lists every known name and prefix. There is no default.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .config import RewardConfig
from .result import VerifyResult


@dataclass(frozen=True)
class VerifyRequest:
    data_source: str
    solution_str: str
    ground_truth: Any
    extra_info: dict = field(default_factory=dict)
    config: RewardConfig = field(default_factory=RewardConfig)

    @property
    def profile(self) -> str:
        return self.config.resolved_profile(self.data_source)

    @property
    def think_mode(self) -> str:
        return self.config.resolved_think_mode(self.data_source)


VerifierFn = Callable[[VerifyRequest], VerifyResult | Awaitable[VerifyResult]]


@dataclass(frozen=True)
class Verifier:
    name: str
    fn: VerifierFn
    is_async: bool


class UnknownDataSource(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


_LOCK = threading.Lock()
_BY_NAME: dict[str, Verifier] = {}  # verifier type -> verifier
_EXACT: dict[str, str] = {}  # data_source -> verifier type
_PREFIXES: dict[str, str] = {}  # data_source prefix -> verifier type


def register_verifier(name: str, *, data_sources: tuple[str, ...] | list[str] = (), prefixes=()) -> Callable:
    """Register `fn` as verifier type `name`, routed from exact `data_sources` and `prefixes`."""

    def decorator(fn: VerifierFn) -> VerifierFn:
        with _LOCK:
            if name in _BY_NAME and _BY_NAME[name].fn is not fn:
                raise ValueError(f"verifier type {name!r} is already registered by {_BY_NAME[name].fn!r}")
            for table, keys, what in ((_EXACT, data_sources, "data_source"), (_PREFIXES, prefixes, "prefix")):
                for key in keys:
                    if not isinstance(key, str) or not key:
                        raise ValueError(f"{what} names must be non-empty strings, got {key!r} for {name!r}")
                    if table.get(key, name) != name:
                        raise ValueError(f"{what} {key!r} is already routed to verifier {table[key]!r}")
            _BY_NAME[name] = Verifier(name, fn, inspect.iscoroutinefunction(fn))
            _EXACT.update({k: name for k in data_sources})
            _PREFIXES.update({k: name for k in prefixes})
        return fn

    return decorator


def resolve(data_source: str) -> Verifier:
    name = _EXACT.get(data_source)
    if name is None:
        matches = [p for p in _PREFIXES if data_source.startswith(p)]
        if matches:
            name = _PREFIXES[max(matches, key=len)]
    if name is None:
        raise UnknownDataSource(
            f"unknown data_source {data_source!r}: no verifier is registered for it. "
            f"Known names: {sorted(_EXACT)}; known prefixes: {sorted(_PREFIXES)}. "
            "Register one with @g2rl_verl.rewards.register_verifier(...) or fix the parquet's data_source."
        )
    return _BY_NAME[name]


def known_routes() -> tuple[dict[str, str], dict[str, str]]:
    """(exact name -> verifier type, prefix -> verifier type), copies."""
    with _LOCK:
        return dict(_EXACT), dict(_PREFIXES)
