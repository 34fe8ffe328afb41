"""Shared fixtures for the reward tests.

All tests share the process-wide math-verify pool of size 2 (one pool per test session: pools are keyed
by size in `math_pool.get_math_pool`), with short inner timeouts so that hang cases finish quickly.
"""

from __future__ import annotations

import pytest

from g2rl_verl.rewards import INFRA_MONITOR
from g2rl_verl.rewards.math_pool import get_math_pool

# Inner math-verify timeouts of 4 s (ints!; generous because CI shares 2 cores) and a parent deadline
# of 15 s > 2*4 + 4.
FAST = {
    "math_pool_size": 2,
    "math_parse_timeout_s": 4,
    "math_verify_timeout_s": 4,
    "math_deadline_s": 15.0,
    # Many tests provoke timeouts/errors on purpose; the failure-rate guard has its own tests.
    "max_infra_failure_rate": 1.0,
}


@pytest.fixture(scope="session")
def fast() -> dict:
    """Reward kwargs for tests (a copy: tests may extend it)."""
    return dict(FAST)


@pytest.fixture(scope="session")
def math_pool():
    """The shared pool, warm: worker start-up (seconds on a loaded box) is never inside a timed test."""
    pool = get_math_pool(FAST["math_pool_size"])
    pool.wait_ready()
    return pool


@pytest.fixture(autouse=True)
def _fresh_infra_monitor():
    INFRA_MONITOR.reset()
    yield
    INFRA_MONITOR.reset()
