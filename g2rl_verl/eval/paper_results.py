"""Published numbers the evaluation report prints next to ours.

Every value below is copied exactly from a result table of the spec (which copies the papers); nothing
here is inferred or derived. Each table records where it comes from. Values are percentages.

Sources:
- KLEAR_TABLE1: Klear-Reasoner, arXiv 2508.07629, Table 1. 32K inference budget unless the row says
  otherwise; † rows are the authors' own evaluation of other models.
- CE_GPPO_README: Kwai-Klear/CE-GPPO README table; the metric behind each column is not stated there.
- G2RL_TABLE1 / G2RL_TABLE2: G2RL, arXiv 2512.15687, Tables 1 and 2. The paper's "AMC" set is not
  named; the 83-problem AMC 2022+2023 set is inferred, so its AMC numbers are shown against our
  `amc23` (40 problems) with that caveat (docs/data-and-eval.md, "Evaluation reports").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaperNumber:
    source: str  # table id, see the module docstring
    model: str  # row label as printed in the paper
    benchmark: str  # our benchmark key (see BENCHMARK_ALIASES)
    metric: str  # the paper's metric name: avg@64, pass@1, maj@16, pass@16, ...
    value: float  # percent
    note: str = ""


# The metric the paper reports, mapped to the name of our estimator computed from the same samples.
# G2RL's pass@1 is the mean correctness over all n samples (docs/methods.md), i.e. our avg@n.
def our_metric_for(paper_metric: str) -> str:
    if paper_metric == "pass@1" or paper_metric.startswith("avg@"):
        return "avg@n"
    return paper_metric


_KLEAR_COLUMNS = (
    ("aime24", "avg@64"),
    ("aime25", "avg@64"),
    ("hmmt_feb2025", "avg@64"),
    ("lcb_v5", "avg@8"),
    ("lcb_v6", "avg@8"),
)
# (row, values, note); None = not reported. † = authors' own evaluation, ♠ 96K, ♣ 64K inference budget.
_KLEAR_ROWS = (
    ("AReal-boba-RL-7B", (61.9, 48.3, 29.4, 34.3, 31.0), "LCB V6 †"),
    ("MiMo-7B-RL", (68.2, 55.4, 35.7, 57.8, 49.3), ""),
    ("Skywork-OR1-7B", (70.2, 54.6, 35.7, 47.6, 42.7), ""),
    ("AceReason-Nemotron-1.1-7B", (72.6, 64.8, 42.9, 57.2, 52.1), ""),
    ("POLARIS-4B-Preview", (81.2, 79.4, 58.7, 58.5, 53.0), "96K budget; LCB †"),
    ("Qwen3-8B", (76.0, 67.3, 44.7, 57.5, 48.4), "HMMT and LCB V6 †"),
    ("Deepseek-R1-0528-Distill-8B", (86.0, 76.3, 61.5, 61.0, 51.6), "64K budget; LCB †"),
    ("OpenReasoning-Nemotron-7B", (84.7, 78.2, 63.5, 65.6, 56.3), "64K budget; LCB †"),
    ("Klear-Reasoner-8B-SFT", (75.6, 70.1, 57.6, 58.5, 49.6), "32K budget"),
    ("Klear-Reasoner-8B", (83.2, 75.6, 60.3, 61.6, 53.1), "32K budget"),
    ("Klear-Reasoner-8B w/ 64K Inference Budget", (90.5, 83.2, 70.8, 66.0, 58.1), "64K budget (YaRN 2.5)"),
)

_CE_GPPO_COLUMNS = ("aime24", "aime25", "hmmt_feb2025", "math500", "amc23")
_CE_GPPO_ROWS = (
    ("DS-R1-Distill-Qwen-1.5B", (29.2, 24.1, 13.1, 86.0, 73.7)),
    ("DS-R1-Distill-Qwen-1.5B +GRPO", (33.4, 28.1, 16.6, 88.3, 79.3)),
    ("DS-R1-Distill-Qwen-1.5B +DAPO", (40.0, 28.4, 19.17, 90.0, 84.4)),
    ("DS-R1-Distill-Qwen-1.5B +CE-GPPO", (42.0, 33.9, 21.6, 91.0, 85.9)),
    ("DS-R1-Distill-Qwen-7B", (54.5, 39.1, 26.2, 93.6, 90.6)),
    ("DS-R1-Distill-Qwen-7B +GRPO", (55.3, 40.3, 24.5, 93.7, 88.8)),
    ("DS-R1-Distill-Qwen-7B +DAPO", (59.7, 48.7, 25.6, 95.1, 93.4)),
    ("DS-R1-Distill-Qwen-7B +CE-GPPO", (66.0, 51.4, 30.5, 95.6, 93.8)),
)

_G2RL_T1_COLUMNS = tuple(
    (b, m) for b in ("math500", "amc", "aime24", "aime25") for m in ("pass@1", "maj@16", "pass@16")
)
_G2RL_T1_ROWS = (
    ("Qwen3-1.7B-Base GRPO", (63.5, 73.2, 86.6, 31.2, 42.0, 68.1, 7.5, 14.8, 24.4, 4.6, 6.8, 22.2)),
    ("Qwen3-1.7B-Base Entropy Bonus", (64.3, 74.1, 86.7, 32.2, 42.3, 65.7, 9.6, 17.2, 23.3, 4.6, 6.9, 24.5)),
    ("Qwen3-1.7B-Base EVOL-RL", (64.3, 73.7, 86.9, 32.2, 43.9, 66.2, 8.4, 15.8, 27.3, 5.3, 7.9, 21.6)),
    ("Qwen3-1.7B-Base G2RL", (66.2, 76.8, 88.7, 33.9, 44.8, 68.5, 10.1, 17.4, 28.0, 7.5, 11.4, 24.8)),
    ("Qwen3-4B-Base GRPO", (76.9, 81.6, 90.8, 47.9, 56.2, 75.1, 12.4, 18.2, 31.1, 10.0, 16.2, 32.5)),
    ("Qwen3-4B-Base Entropy Bonus", (79.0, 87.2, 93.2, 50.5, 63.7, 79.5, 17.8, 25.4, 40.0, 16.1, 24.4, 41.5)),
    ("Qwen3-4B-Base EVOL-RL", (80.0, 87.7, 93.5, 50.9, 62.0, 81.9, 19.4, 28.2, 42.4, 17.5, 23.9, 39.8)),
    ("Qwen3-4B-Base G2RL", (80.8, 87.8, 93.6, 52.3, 63.8, 82.0, 19.9, 28.7, 43.8, 20.1, 29.0, 45.0)),
)

_G2RL_T2_COLUMNS = (
    ("gpqa_diamond", "pass@1"),
    ("gpqa_diamond", "maj@16"),
    ("gpqa_diamond", "pass@16"),
    ("gpqa_diamond", "pass@32"),
    ("mmlu_pro", "pass@1"),
)
_G2RL_T2_ROWS = (
    ("Qwen3-4B-Base GRPO", (37.2, 39.2, 81.2, 85.2, 56.15)),
    ("Qwen3-4B-Base Entropy Bonus", (37.8, 42.8, 88.6, 92.6, 57.14)),
    ("Qwen3-4B-Base EVOL-RL", (37.4, 42.1, 88.9, 93.7, 57.17)),
    ("Qwen3-4B-Base G2RL", (38.7, 44.0, 89.2, 93.5, 58.47)),
)


def _build() -> tuple[PaperNumber, ...]:
    out: list[PaperNumber] = []
    for model, values, note in _KLEAR_ROWS:
        for (bench, metric), v in zip(_KLEAR_COLUMNS, values):
            out.append(PaperNumber("KLEAR_TABLE1", model, bench, metric, v, note))
    for model, values in _CE_GPPO_ROWS:
        for bench, v in zip(_CE_GPPO_COLUMNS, values):
            out.append(
                PaperNumber("CE_GPPO_README", model, bench, "unstated", v, "metric not stated in the README")
            )
    for model, values in _G2RL_T1_ROWS:
        for (bench, metric), v in zip(_G2RL_T1_COLUMNS, values):
            note = "paper AMC set not named (83-problem AMC22+23 inferred)" if bench == "amc" else ""
            out.append(PaperNumber("G2RL_TABLE1", model, bench, metric, v, note))
    for model, values in _G2RL_T2_ROWS:
        for (bench, metric), v in zip(_G2RL_T2_COLUMNS, values):
            note = "micro-average" if bench == "mmlu_pro" else ""
            out.append(PaperNumber("G2RL_TABLE2", model, bench, metric, v, note))
    return tuple(out)


PAPER_NUMBERS: tuple[PaperNumber, ...] = _build()

# Our benchmark key -> the paper benchmark keys whose numbers are shown for it.
BENCHMARK_ALIASES: dict[str, tuple[str, ...]] = {
    "amc23": ("amc23", "amc"),
    "amc": ("amc",),
}


# Problems per benchmark in the papers' evaluations: (count, where the count comes from). A run on a
# different number of problems is not comparable to the paper's number, and the report says so.
PAPER_PROBLEM_COUNTS: dict[str, tuple[int, str]] = {
    "aime24": (30, "AIME 2024 I + II"),
    "aime25": (30, "AIME 2025 I + II"),
    "hmmt_feb2025": (30, "HMMT February 2025"),
    "math500": (500, "MATH-500"),
    "amc23": (40, "AMC 2023 (CE-GPPO); G2RL's AMC set is inferred to have 83 problems"),
    "amc": (83, "AMC 2022 + 2023, inferred"),
    "gpqa_diamond": (198, "GPQA-Diamond"),
    "mmlu_pro": (12032, "MMLU-Pro test split"),
    "lcb_v5": (279, "LiveCodeBench v5 window, commonly quoted, unverified"),
    "lcb_v6": (175, "LiveCodeBench v6 window, commonly quoted, unverified"),
}


def _label(text: str) -> str:
    return " ".join(text.lower().split())


def paper_model_labels() -> list[str]:
    return sorted({p.model for p in PAPER_NUMBERS})


def check_paper_models(model_filters: tuple[str, ...]) -> None:
    """Refuse a --paper-model that names no row of any table (with the labels that exist)."""
    known = {_label(m) for m in paper_model_labels()}
    unknown = [f for f in model_filters if _label(f) not in known]
    if unknown:
        raise ValueError(
            f"--paper-model {unknown} names no row of the papers' tables; give a full row label, one of: "
            + "; ".join(paper_model_labels())
        )


def paper_numbers_for(benchmark: str, model_filters: tuple[str, ...] = ()) -> list[PaperNumber]:
    """Published numbers for our benchmark key. ``model_filters`` keeps only the rows whose model label
    equals one of them (case and spacing ignored): "Klear-Reasoner-8B" is that row alone, not also
    "Klear-Reasoner-8B-SFT" or the 64K-budget row."""
    keys = BENCHMARK_ALIASES.get(benchmark, (benchmark,))
    rows = [p for p in PAPER_NUMBERS if p.benchmark in keys]
    if model_filters:
        wanted = {_label(f) for f in model_filters}
        rows = [p for p in rows if _label(p.model) in wanted]
    return rows
