"""Collision guard for verl's name -> object registries.

verl's `register_policy_loss` overwrites silently, and `register_adv_est` raises only for a different
function object. Every registration of ours goes through `register_once`, which is idempotent for the
same object (the plugin may be imported by the entry point and by VERL_USE_EXTERNAL_MODULES) and
refuses to replace anything else.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any


class RegistryCollisionError(RuntimeError):
    """A name we register is already taken by a different object."""


def _same_object(a: Any, b: Any) -> bool:
    if a is b:
        return True
    # A module re-imported under the same name yields a new function object with the same identity.
    return getattr(a, "__module__", None) == getattr(b, "__module__", None) and getattr(
        a, "__qualname__", None
    ) == getattr(b, "__qualname__", object())


def register_once(registry: MutableMapping, name: str, obj: Any, *, registry_name: str) -> None:
    existing = registry.get(name)
    if existing is not None and not _same_object(existing, obj):
        owner = f"{getattr(existing, '__module__', '?')}.{getattr(existing, '__qualname__', repr(existing))}"
        raise RegistryCollisionError(
            f"{registry_name}[{name!r}] is already registered to {owner}; g2rl_verl refuses to overwrite it. "
            "Rename one of the two, or uninstall the package that registered it."
        )
    registry[name] = obj
