"""The structured result every verifier returns (docs/rewards.md, "The result object").

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
    def carries_no_credit(self) -> bool:
        """Timeouts and errors never earn credit (score01 == 0); whether they are valid depends on who
        caused them (`VerifyResult.valid`)."""
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

    `valid` says whether the result is a verdict about the candidate (docs/rewards.md, "Infrastructure
    failures: who caused it"). It is False exactly for infrastructure failures: a crashed or unavailable
    math pool or sandbox, a bad gold, a bad test spec, a deadline that expired before the gold was known
    good. Every `error` is invalid. A `timeout` is invalid by default and valid (scored wrong, `score01 = 0`)
    when the verifier shows the candidate caused it (`valid=True`: the gold verified on its own within the
    deadline). Every other kind is always valid.
    """

    kind: Kind
    detail: str = ""
    score01: float = 0.0
    pred: str | None = None
    n_selected: int = 0
    n_passed: int = 0
    test_verdicts: list[str] = field(default_factory=list)
    latency_s: float = 0.0
    valid: bool | None = None  # None: derived from kind (timeout/error -> False, others -> True)

    def __post_init__(self) -> None:
        self.kind = Kind(self.kind)
        if self.valid is None:
            self.valid = not self.kind.carries_no_credit
        elif self.kind is Kind.ERROR and self.valid:
            raise ValueError("an error result is never valid: errors are infrastructure failures")
        elif not self.kind.carries_no_credit and not self.valid:
            raise ValueError(f"a {self.kind.value} result is a verdict and is always valid")
        if self.pred is not None:
            self.pred = self.pred[:PRED_MAX_CHARS]
        if not 0.0 <= self.score01 <= 1.0:
            raise ValueError(f"score01 must be in [0, 1], got {self.score01!r} (kind={self.kind.value})")
        if self.kind.carries_no_credit and self.score01 != 0.0:
            raise ValueError(f"a {self.kind.value} result must have score01 == 0, got {self.score01!r}")

    @property
    def acc(self) -> float:
        return 1.0 if self.kind is Kind.CORRECT else 0.0
