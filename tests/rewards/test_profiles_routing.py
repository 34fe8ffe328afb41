"""Profiles, routing, config validation and the infra-failure policy (docs/rewards.md)."""

from __future__ import annotations

import pytest

from g2rl_verl.rewards import (
    InfraFailureMonitor,
    InfraFailureRateExceeded,
    Kind,
    RewardConfig,
    UnknownDataSource,
    VerifyResult,
    compute_score,
    known_routes,
    register_verifier,
    resolve,
)
from g2rl_verl.rewards.profiles import profile_score

# (kind, detail, score01) -> {profile: expected}, transcribed from the profile table in docs/rewards.md.
PROFILE_TABLE = [
    (Kind.CORRECT, "", 1.0, {"klear": 1.0, "g2rl": 1.0, "binary": 1.0}),
    (Kind.WRONG, "", 0.0, {"klear": -1.0, "g2rl": -1.0, "binary": 0.0}),
    (Kind.NO_ANSWER, "", 0.0, {"klear": -1.0, "g2rl": -1.0, "binary": 0.0}),
    (Kind.WRONG, "passed 3/4", 0.75, {"klear": 0.5, "g2rl": 0.5, "binary": 0.75}),  # soft code 2p-1 / p
    (Kind.FORMAT_ERROR, "no_code_block", 0.0, {"klear": -1.0, "g2rl": -1.0, "binary": 0.0}),
    (Kind.FORMAT_ERROR, "missing_close_think", 0.0, {"klear": -0.5, "g2rl": -1.0, "binary": 0.0}),
    (Kind.FORMAT_ERROR, "missing_open_think", 0.0, {"klear": -2.0, "g2rl": -1.0, "binary": 0.0}),
    (Kind.TIMEOUT, "watchdog_timeout", 0.0, {"klear": -1.0, "g2rl": -1.0, "binary": 0.0}),
    (Kind.ERROR, "sandbox_error", 0.0, {"klear": -1.0, "g2rl": -1.0, "binary": 0.0}),
]


@pytest.mark.parametrize("kind, detail, score01, expected", PROFILE_TABLE)
def test_profile_table(kind, detail, score01, expected):
    result = VerifyResult(kind, detail=detail, score01=score01)
    for profile, value in expected.items():
        assert profile_score(result, profile) == value, profile
    assert result.valid == (kind not in (Kind.TIMEOUT, Kind.ERROR))
    assert result.acc == (1.0 if kind is Kind.CORRECT else 0.0)


def test_infra_results_cannot_carry_credit():
    with pytest.raises(ValueError, match="score01 == 0"):
        VerifyResult(Kind.TIMEOUT, score01=1.0)


ALL_NAMES = {
    "math": [
        "math_longcot_math_verify",
        "math_longcot_math_verify_aime2024",
        "MATH-TTT",
        "lighteval/MATH",
        "DigitalLearningGmbH/MATH-lighteval",
        "HuggingFaceH4/MATH-500",
        "aime24",
        "aime25",
        "aime2024",
        "math_dapo",
        "math",
        "math_dapo_reasoning",
        "numina_olympiads",
        "openai/gsm8k",
        "amc23",
        "amc",
        "math500",
        "hmmt_feb2025",
    ],
    "code": [
        "coder1_longcot",
        "coder1_longcot_lcbv5",
        "coder1_longcot_lcbv6",
        "codecontests",
        "apps",
        "taco",
        "codeforces",
        "livecodebench/code_generation_lite",
        "lcb_v5",
        "lcb_v6",
        "humaneval",
    ],
    "mc": ["gpqa_diamond", "mmlu_pro"],
}


@pytest.mark.parametrize("verifier, name", [(v, n) for v, names in ALL_NAMES.items() for n in names])
def test_every_known_name_resolves(verifier, name):
    assert resolve(name).name == verifier


def test_unknown_data_source_lists_names_and_prefixes():
    with pytest.raises(UnknownDataSource) as info:
        resolve("my_new_dataset")
    message = str(info.value)
    assert "my_new_dataset" in message and "MATH-TTT" in message and "coder1_longcot" in message
    with pytest.raises(UnknownDataSource):
        compute_score("Math-TTT", r"\boxed{1}", "1")  # case-sensitive: no silent default


def test_registering_a_new_type_is_one_decorated_function():
    @register_verifier(
        "test_length", data_sources=["test_length_exact"], prefixes=["test_len", "test_length_"]
    )
    def verify_length(request):
        ok = len(request.solution_str) == int(request.ground_truth)
        return VerifyResult(
            Kind.CORRECT if ok else Kind.WRONG, score01=float(ok), pred=str(len(request.solution_str))
        )

    exact, prefixes = known_routes()
    assert exact["test_length_exact"] == "test_length" and prefixes["test_len"] == "test_length"
    assert resolve("test_length_xyz").name == "test_length"  # longest prefix wins over "test_len"
    out = compute_score("test_length_xyz", "abc", "3")
    assert (out["kind"], out["score"], out["pred"]) == ("correct", 1.0, "3")  # g2rl default profile
    with pytest.raises(ValueError, match="already routed"):
        register_verifier("other", data_sources=["test_length_exact"])(verify_length)


def test_klear_defaults_and_override():
    cfg = RewardConfig()
    assert cfg.resolved_profile("coder1_longcot_lcbv5") == "klear"
    assert cfg.resolved_think_mode("math_longcot_math_verify") == "require_both"
    assert cfg.resolved_profile("MATH-TTT") == "g2rl" and cfg.resolved_think_mode("MATH-TTT") == "none"
    over = RewardConfig(profile="binary", think_mode="none")
    assert over.resolved_profile("math_longcot_math_verify") == "binary"
    assert over.resolved_think_mode("math_longcot_math_verify") == "none"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"math_verify_timeout_s": 0.5}, "math_verify_timeout_s"),  # float-timeout guard
        ({"math_parse_timeout_s": 2.0}, "math_parse_timeout_s"),
        ({"profile": "klaer"}, "profile"),
        ({"profil": "klear"}, "unknown reward_kwargs"),
        ({"math_deadline_s": 5, "math_verify_timeout_s": 5}, "math_deadline_s"),
        ({"sandbox_backend": "http"}, "sandbox_url"),
    ],
)
def test_config_errors_name_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RewardConfig.from_kwargs(kwargs)


def test_verl_injected_kwargs_are_accepted():
    RewardConfig.from_kwargs({"reward_router_address": None, "reward_model_tokenizer": None})


def test_float_timeout_is_refused_before_any_scoring():
    with pytest.raises(ValueError, match="positive int"):
        compute_score("MATH-TTT", r"\boxed{1}", "1", math_verify_timeout_s=0.5)


def test_infra_monitor_raises_above_threshold_only_after_min_samples():
    cfg = RewardConfig(max_infra_failure_rate=0.25, infra_failure_window=8, infra_failure_min_samples=4)
    monitor = InfraFailureMonitor()
    ok, bad = VerifyResult(Kind.WRONG), VerifyResult(Kind.TIMEOUT, detail="watchdog_timeout")
    monitor.record(bad, cfg)  # 1/1 failed, but below min_samples: no verdict yet
    for _ in range(3):
        monitor.record(ok, cfg)  # window 1/4 = 0.25, not above 0.25
    with pytest.raises(InfraFailureRateExceeded, match="max_infra_failure_rate=0.25"):
        monitor.record(bad, cfg)  # 2/5 = 0.4
    # Training stops at the first raise; if the caller continued, the guard keeps firing until the
    # window recovers: 2/6 and 2/7 are above 0.25, 2/8 is not.
    for _ in range(2):
        with pytest.raises(InfraFailureRateExceeded):
            monitor.record(ok, cfg)
    monitor.record(ok, cfg)
    assert monitor.n_failed == 2


def test_compute_score_raises_when_error_rate_exceeded():
    kwargs = {"max_infra_failure_rate": 0.05, "infra_failure_min_samples": 4}
    for _ in range(3):  # a truncated gold -> error/bad_gold
        assert compute_score("MATH-TTT", r"\boxed{1}", r"\frac{1", **kwargs)["kind"] == "error"
    with pytest.raises(InfraFailureRateExceeded):
        compute_score("MATH-TTT", r"\boxed{1}", r"\frac{1", **kwargs)
