"""Rendering of benchmark summaries: markdown + JSON report next to the papers' numbers, and a pass@k plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from g2rl_verl.eval.datasets import LCB_WINDOWS
from g2rl_verl.eval.paper_results import PAPER_PROBLEM_COUNTS, PaperNumber, our_metric_for, paper_numbers_for
from g2rl_verl.eval.records import atomic_write_bytes, atomic_write_json, atomic_write_text
from g2rl_verl.eval.summary import BenchmarkSummary


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100.0 * x:.1f}"


def our_value_for(summary: BenchmarkSummary, paper: PaperNumber) -> tuple[str, float | None]:
    """Our metric comparable to a paper number: (our metric name, value) or (reason, None)."""
    metric = our_metric_for(paper.metric)
    if metric == "unstated":
        metric = "avg@n"  # shown for orientation; the README does not say what it reports
    if metric == "avg@n":
        name = f"avg@{summary.n}"
    else:
        name = metric
    mv = summary.metrics.get(name)
    if mv is None:
        return f"{name} (needs n >= {name.split('@')[1]})", None
    return name, mv.value


def problem_count_warning(summary: BenchmarkSummary) -> str | None:
    """A warning when we evaluated a different number of problems than the paper did."""
    paper = PAPER_PROBLEM_COUNTS.get(summary.benchmark)
    if paper is None or paper[0] == summary.num_problems:
        return None
    return (
        f"{summary.num_problems} problems evaluated, the paper's {summary.benchmark} has {paper[0]} ({paper[1]}): "
        "numbers are not directly comparable"
    )


def lcb_window(summary: BenchmarkSummary) -> dict[str, str] | None:
    """The LiveCodeBench contest-date window of an lcb_<name> benchmark (None for other benchmarks)."""
    names = {ds.removeprefix("lcb_") for ds in summary.data_sources if ds.startswith("lcb_")}
    if not names:
        return None
    windows = {}
    for name in sorted(names):
        if name in LCB_WINDOWS:
            tag, start, end = LCB_WINDOWS[name]
            windows[name] = f"{tag}: {start} <= contest_date <= {end} (dates compared as midnight)"
        else:
            windows[name] = (
                "unknown window (data_source not one of " + ", ".join(f"lcb_{k}" for k in LCB_WINDOWS) + ")"
            )
    return windows


def maj_description(summary: BenchmarkSummary) -> str:
    exact = summary.maj_exact_ks
    sampled = [int(name.split("@")[1]) for name in summary.metrics if name.startswith("maj@")]
    sampled = [k for k in sampled if k not in exact]
    parts = []
    if exact:
        parts.append(f"exact (every k-subset enumerated) for k = {', '.join(map(str, exact))}")
    if sampled:
        parts.append(
            f"mean of {summary.maj_subsets} seeded random k-subsets (seed {summary.maj_seed}) for k = "
            + ", ".join(map(str, sampled))
        )
    return "; ".join(parts) or "not computed"


def paper_rows(summary: BenchmarkSummary, model_filters: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    for p in paper_numbers_for(summary.benchmark, model_filters):
        name, ours = our_value_for(summary, p)
        rows.append(
            {
                "source": p.source,
                "model": p.model,
                "paper_metric": p.metric,
                "paper_value": p.value,
                "our_metric": name,
                "our_value_pct": None if ours is None else 100.0 * ours,
                "delta_pct_points": None if ours is None else 100.0 * ours - p.value,
                "note": p.note,
            }
        )
    return rows


def render_markdown(
    summaries: Sequence[BenchmarkSummary],
    provenance: dict[str, Any],
    model_filters: tuple[str, ...],
    plot_name: str,
) -> str:
    lines = ["# Evaluation report", ""]
    lines.append(
        "All values are percentages. Brackets: 95% bootstrap CI over problems (1,000 resamples). "
        "`pass@k` is the unbiased estimator (Chen et al. 2021); `maj@k` is exact (every k-subset) when there "
        "are at most 1,000 k-subsets, else it averages 1,000 seeded random k-subsets "
        "drawn without replacement, ties scored by exact expectation; `verl_best@k` / `verl_maj@k` are "
        "verl's bootstrap estimates (draws with replacement, first-occurrence ties), which under-report "
        "pass@k. Paper values are copied from the cited tables (with --paper-model: only that row); "
        "'delta' is ours minus paper. The plot shows our pass@k with its CI band and the paper's points."
    )
    lines.append("")
    for key, value in provenance.items():
        lines.append(f"- {key}: `{value}`")
    lines += ["", f"![pass@k]({plot_name})", ""]
    for s in summaries:
        lines += [f"## {s.benchmark}", ""]
        if warning := problem_count_warning(s):
            lines += [f"> **Warning:** {warning}.", ""]
        for name, window in (lcb_window(s) or {}).items():
            lines += [f"LiveCodeBench {name} window: {window}.", ""]
        lines.append(
            f"{s.num_problems} problems x {s.n} samples; models {', '.join(s.models)}; settings hash "
            f"{', '.join(s.config_hashes)}; verifier {', '.join(s.verifiers)}."
        )
        lines += ["", "| metric | value | 95% CI |", "|---|---|---|"]
        for name, mv in s.metrics.items():
            ci = "" if mv.ci_low is None else f"[{_pct(mv.ci_low)}, {_pct(mv.ci_high)}]"
            lines.append(f"| {name} | {_pct(mv.value)} | {ci} |")
        lines += [
            "",
            f"- truncation rate (hit max tokens): {_pct(s.truncation_rate)}",
            f"- no answer / format error rate: {_pct(s.no_answer_rate)}",
            f"- timeout + error rate (counted as incorrect): {_pct(s.infra_failure_rate)}",
            f"- verdicts: {', '.join(f'{k} {v}' for k, v in s.kind_counts.items())}",
            f"- mean completion tokens: {s.mean_completion_tokens:.1f}; mean response chars: {s.mean_response_chars:.1f}",
            f"- maj@k: {maj_description(s)}",
            "",
        ]
        rows = paper_rows(s, model_filters)
        if rows:
            lines += [
                "Paper numbers:",
                "",
                "| source | model | paper metric | paper | ours (metric) | ours | delta | note |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for r in rows:
                ours = "" if r["our_value_pct"] is None else f"{r['our_value_pct']:.1f}"
                delta = "" if r["delta_pct_points"] is None else f"{r['delta_pct_points']:+.1f}"
                lines.append(
                    f"| {r['source']} | {r['model']} | {r['paper_metric']} | {r['paper_value']} | "
                    f"{r['our_metric']} | {ours} | {delta} | {r['note']} |"
                )
            lines.append("")
        for field_name, groups in s.breakdowns.items():
            lines += [f"avg@{s.n} by `{field_name}`:", "", "| value | problems | avg |", "|---|---|---|"]
            lines += [f"| {v} | {g['problems']} | {_pct(g['avg'])} |" for v, g in groups.items()]
            # macro-average: the unweighted mean over groups (MMLU-Pro reports it next to the micro-average)
            macro = sum(g["avg"] for g in groups.values()) / len(groups)
            lines += ["", f"macro-average over `{field_name}`: {_pct(macro)} (micro-average = avg@{s.n})", ""]
    return "\n".join(lines) + "\n"


def paper_points(summary: BenchmarkSummary, model_filters: tuple[str, ...]) -> list[tuple[int, float, str]]:
    """(k, percent, model) of the paper numbers that are points of the pass@k curve: pass@k columns and
    the pass@1 / avg@n columns (the mean correctness is the unbiased pass@1)."""
    points = []
    for p in paper_numbers_for(summary.benchmark, model_filters):
        metric = our_metric_for(p.metric)
        if metric == "avg@n":
            points.append((1, p.value, p.model))
        elif metric.startswith("pass@"):
            points.append((int(metric.split("@")[1]), p.value, p.model))
    return points


def render_plot(summaries: Sequence[BenchmarkSummary], model_filters: tuple[str, ...] = ()) -> bytes:
    """Our unbiased pass@k curve per benchmark with its 95% bootstrap CI band, and the paper's pass@k
    points (hollow markers, same colour) for the rows the report compares against."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    try:
        for i, s in enumerate(summaries):
            color = f"C{i % 10}"
            ks = sorted(s.pass_curve)
            ax.plot(
                ks,
                [100.0 * s.pass_curve[k] for k in ks],
                marker="o",
                color=color,
                label=f"{s.benchmark} (n={s.n})",
            )
            cis = [s.metrics.get(f"pass@{k}") for k in ks]
            if all(mv is not None and mv.ci_low is not None for mv in cis):
                ax.fill_between(
                    ks,
                    [100.0 * mv.ci_low for mv in cis],
                    [100.0 * mv.ci_high for mv in cis],
                    color=color,
                    alpha=0.2,
                )
            points = paper_points(s, model_filters)
            if points:
                ax.scatter(
                    [k for k, _, _ in points],
                    [v for _, v, _ in points],
                    marker="D",
                    facecolors="none",
                    edgecolors=color,
                    label=f"{s.benchmark}: paper ({len({m for _, _, m in points})} rows)",
                    zorder=3,
                )
        ax.set_xscale("log", base=2)
        ax.set_xlabel("k")
        ax.set_ylabel("unbiased pass@k (%)")
        ax.set_ylim(0, 100)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
        ax.set_title("pass@k: ours with 95% bootstrap CI band; paper numbers as hollow diamonds")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()
    finally:
        plt.close(fig)


def write_report(
    out_dir: Path,
    summaries: Sequence[BenchmarkSummary],
    provenance: dict[str, Any],
    model_filters: tuple[str, ...] = (),
) -> dict[str, Path]:
    """Write report.md, report.json and pass_at_k.png into ``out_dir``; returns their paths."""
    paths = {
        "markdown": out_dir / "report.md",
        "json": out_dir / "report.json",
        "plot": out_dir / "pass_at_k.png",
    }
    atomic_write_bytes(paths["plot"], render_plot(summaries, model_filters))
    atomic_write_json(
        paths["json"],
        {
            "provenance": provenance,
            "benchmarks": [
                {
                    **s.as_dict(),
                    "problem_count_warning": problem_count_warning(s),
                    "lcb_window": lcb_window(s),
                    "maj_description": maj_description(s),
                    "paper": paper_rows(s, model_filters),
                    "paper_points_on_plot": [list(p) for p in paper_points(s, model_filters)],
                }
                for s in summaries
            ],
        },
    )
    atomic_write_text(
        paths["markdown"], render_markdown(summaries, provenance, model_filters, paths["plot"].name)
    )
    return paths
