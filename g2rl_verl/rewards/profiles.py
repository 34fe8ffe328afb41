"""Scoring profiles: VerifyResult -> training scalar (docs/rewards.md, "Profiles").

Every profile except `klear` is an affine map of `score01` (g2rl: 2*score01 - 1, binary: score01).
`klear` reproduces Klear-Reasoner's ScoringConfig, whose think-tag penalties differ: missing `</think>`
-0.5 (so a truncated response scores above a finished wrong one, a quirk kept for faithfulness) and
missing `<think>` -2. Timeouts and errors score the profile's wrong value; whether they are `valid` depends on who caused
them (docs/rewards.md, "Infrastructure failures: who caused it").
"""

from __future__ import annotations

from .result import Kind, VerifyResult

KLEAR_FORMAT_PENALTIES = {"missing_close_think": -0.5, "missing_open_think": -2.0}


def profile_score(result: VerifyResult, profile: str) -> float:
    if result.kind is Kind.FORMAT_ERROR:
        if profile == "klear":
            return KLEAR_FORMAT_PENALTIES.get(result.detail, -1.0)
        return -1.0 if profile == "g2rl" else 0.0
    # correct / wrong / no_answer carry their credit in score01; timeout / error have score01 == 0,
    # i.e. they score the profile's wrong value.
    if profile in ("klear", "g2rl"):
        return 2.0 * result.score01 - 1.0
    if profile == "binary":
        return result.score01
    raise ValueError(f"unknown scoring profile {profile!r}; expected one of klear, g2rl, binary")
