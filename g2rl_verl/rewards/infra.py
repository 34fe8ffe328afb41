"""Infrastructure-failure accounting (docs/rewards.md, "Infrastructure failures: who caused it").

Infrastructure failures (`valid = 0`: a crashed or unavailable pool or sandbox, a bad gold or test spec)
are scored with the profile's wrong value (verl never sees NaN). A timeout the candidate caused is a
verdict (`valid = 1`) and is not counted here. So that a broken sandbox or math pool cannot silently poison training, every scored sample
is recorded here, and once the failure rate over the most recent `infra_failure_window` samples
(evaluated after at least `infra_failure_min_samples`) exceeds `max_infra_failure_rate`, the reward
function raises `InfraFailureRateExceeded`; in verl this fails the reward-loop task and stops training
with the message. The window approximates "a step": verl streams samples, so the function never sees
step boundaries. Set `max_infra_failure_rate=1.0` to only log (e.g. offline evaluation, which applies
its own threshold).
"""

from __future__ import annotations

import collections
import threading

from .config import RewardConfig
from .result import VerifyResult


class InfraFailureRateExceeded(RuntimeError):
    pass


class InfraFailureMonitor:
    """Sliding window over the most recent results; O(1) per record (failure count kept incrementally)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: collections.deque[str | None] = collections.deque()  # failure reason, or None
        self._window_failures = 0
        self.n_seen = 0
        self.n_failed = 0

    def record(self, result: VerifyResult, cfg: RewardConfig) -> None:
        """Record one result; raise if the recent failure rate is above the configured maximum."""
        reason = None if result.valid else f"{result.kind.value}/{result.detail.split(':')[0]}"
        with self._lock:
            self._recent.append(reason)
            self._window_failures += reason is not None
            while len(self._recent) > cfg.infra_failure_window:
                self._window_failures -= self._recent.popleft() is not None
            self.n_seen += 1
            self.n_failed += reason is not None
            n_window, n_failures = len(self._recent), self._window_failures
            if (
                n_window < cfg.infra_failure_min_samples
                or n_failures / n_window <= cfg.max_infra_failure_rate
            ):
                return
            by_reason = collections.Counter(r for r in self._recent if r is not None).most_common(5)
        raise InfraFailureRateExceeded(
            f"{n_failures} of the last {n_window} reward verifications were infrastructure failures "
            f"(rate {n_failures / n_window:.3f} > reward_kwargs.max_infra_failure_rate="
            f"{cfg.max_infra_failure_rate}); most common: {by_reason}. Fix the sandbox / math pool (or raise "
            "the threshold knowingly)."
        )

    def reset(self) -> None:
        with self._lock:
            self._recent.clear()
            self._window_failures = self.n_seen = self.n_failed = 0


INFRA_MONITOR = InfraFailureMonitor()
