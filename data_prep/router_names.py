"""data_source names the reward router knows (rewards.md §6): exact names, then prefixes.

data_prep only emits names from this table, and --data-source overrides are checked against it, so a
built file can never carry a data_source the router would refuse.
"""

from __future__ import annotations

EXACT = frozenset(
    {
        "MATH-TTT",
        "lighteval/MATH",
        "DigitalLearningGmbH/MATH-lighteval",
        "HuggingFaceH4/MATH-500",
        "math_dapo",
        "math",
        "math_dapo_reasoning",
        "openai/gsm8k",
        "amc23",
        "amc",
        "math500",
        "hmmt_feb2025",
        "codecontests",
        "apps",
        "taco",
        "codeforces",
        "lcb_v5",
        "lcb_v6",
        "humaneval",
        "gpqa_diamond",
        "mmlu_pro",
    }
)
PREFIXES = ("math_longcot_math_verify", "coder1_longcot", "aime", "numina_", "livecodebench/")


def is_routable(name: str) -> bool:
    return name in EXACT or any(name.startswith(p) for p in PREFIXES)
