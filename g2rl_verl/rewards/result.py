"""The structured result every verifier returns (rewards.md §1).

`VerifyResult` is verl-free: the eval harness consumes it directly, and `router.py` turns it into the
flat dict verl logs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

PRED_MAX_CHARS = 200


class Kind(str, enum.Enum):
    """Verdict category. The integer ids are part of the logged contract (`kind_id`); never reorder."""

    CORRECT = "correct"
    WRONG = "wrong"
    NO_ANSWER = "no_answer"
    FORMAT_ERROR = "format_error"
    TIMEOUT = "timeout"
    ERROR = "error"

    @property
    def id(self) -> int:
        return _KIND_IDS[self]

    @property
    def is_infra_failure(self) -> bool:
        """Timeouts and errors carry no verdict about the response (`valid = 0`)."""
        return self in (Kind.TIMEOUT, Kind.ERROR)


_KIND_IDS = {
    Kind.CORRECT: 0,
    Kind.WRONG: 1,
    Kind.NO_ANSWER: 2,
    Kind.FORMAT_ERROR: 3,
    Kind.TIMEOUT: 4,
    Kind.ERROR: 5,
}
KIND_BY_ID = {v: k for k, v in _KIND_IDS.items()}


@dataclass
class VerifyResult:
    """Outcome of one verification.

    `detail` is a short machine-readable sub-reason (`missing_close_think`, `watchdog_timeout`, ...).
    `pred` is the raw extracted answer (math/mc) or a short hash of the extracted code; None when nothing
    was extracted. `score01` is the correctness score in [0, 1] (code: soft or hard pass rate).
    """

    kind: Kind
    detail: str = ""
    score01: float = 0.0
    pred: str | None = None
    n_selected: int = 0
    n_passed: int = 0
    test_verdicts: list[str] = field(default_factory=list)
    latency_s: float = 0.0

    def __post_init__(self) -> None:
        self.kind = Kind(self.kind)
        if self.pred is not None:
            self.pred = self.pred[:PRED_MAX_CHARS]
        if not 0.0 <= self.score01 <= 1.0:
            raise ValueError(f"score01 must be in [0, 1], got {self.score01!r} (kind={self.kind.value})")
        if self.kind.is_infra_failure and self.score01 != 0.0:
            raise ValueError(f"a {self.kind.value} result must have score01 == 0, got {self.score01!r}")

    @property
    def valid(self) -> bool:
        return not self.kind.is_infra_failure

    @property
    def acc(self) -> float:
        return 1.0 if self.kind is Kind.CORRECT else 0.0
