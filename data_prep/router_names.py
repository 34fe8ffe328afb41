"""data_source names the reward router knows (docs/rewards.md), asked of the router itself.

data_prep only emits names the router resolves, and --data-source overrides are checked against it, so
a built file can never carry a data_source the router would refuse, and the two lists cannot drift.
Importing `g2rl_verl.rewards` is light (no torch, no verl).
"""

from __future__ import annotations

import g2rl_verl.rewards  # noqa: F401  (registers the built-in verifiers)
from g2rl_verl.rewards.registry import UnknownDataSource, known_routes, resolve

_exact, _prefixes = known_routes()
EXACT = frozenset(_exact)
PREFIXES = tuple(_prefixes)


def is_routable(name: str) -> bool:
    try:
        resolve(name)
    except UnknownDataSource:
        return False
    return True
