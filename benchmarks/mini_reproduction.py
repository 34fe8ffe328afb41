"""CPU mini-reproduction: SFT -> {GRPO, GPPO, G2RL} x seeds -> held-out pass@1 with 95% CIs and learning curves.

    python benchmarks/mini_reproduction.py --out runs/mini [--seeds 0 1 2] [--methods grpo gppo g2rl]
                                           [--sft-steps N] [--rl-steps N]

Synthetic addition data and a freshly initialised tiny model (``--data-seed``), one SFT run through
verl's SFT trainer and its held-out pass@1 (``python -m g2rl_verl.eval`` with the HF backend); then, for
every RL seed, one RL run per method from that SFT model (``python -m g2rl_verl.main``,
recipes/demo/config), each evaluated the same way. The seeds therefore measure RL's variance (data
order, rollout sampling) around one SFT model, not SFT's. Same data, seeds and step budget for every method; the method-specific knobs are the
papers' (recipes/demo/config/demo_method/*.yaml), the shared ones ours (demo_rl.yaml).

Writes under --out: one directory per run, ``results.json``, ``results.md`` (mean
and 95% t-interval over seeds of SFT pass@1, RL pass@1 and the gain; the paired gain difference of
each method against GRPO) and ``curves.png`` (verl's held-out accuracy and mean training reward
against step, mean over seeds, shaded min-max). Finished runs (their ``summary.json``) are reused, so
an interrupted benchmark resumes where it stopped. Exit status 1 if any run reported a problem.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from g2rl_verl.demo import BENCHMARK_RL_STEPS, G2RL_ABLATIONS, METHODS, DemoSettings, run_pipeline

T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def mean_ci(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval (df = n - 1); a single value has no interval (nan)."""
    m = statistics.fmean(values)
    if len(values) < 2:
        return m, math.nan, math.nan
    half = T_975.get(len(values) - 1, 1.96) * statistics.stdev(values) / math.sqrt(len(values))
    return m, m - half, m + half


def _fmt(stat: tuple[float, float, float]) -> str:
    m, lo, hi = stat
    if math.isnan(lo):
        return f"{100 * m:.1f}"
    return f"{100 * m:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"


def run(args: argparse.Namespace) -> dict:
    out = args.out.resolve()
    base = DemoSettings(
        sft_steps=args.sft_steps,
        rl_steps=args.rl_steps,
        resume_steps=0,
        test_freq=args.test_freq,
        data_seed=args.data_seed,
    )
    runs: dict[str, dict[int, dict]] = {m: {} for m in args.methods}
    t0 = time.monotonic()
    sft_summary = out / "sft_summary.json"
    if not sft_summary.exists():
        # the SFT stage runs inside the first method's first-seed pipeline; its model is reused by all runs
        method, seed = args.methods[0], args.seeds[0]
        print(f"== SFT (data seed {args.data_seed}), then RL {method} seed {seed} ==", flush=True)
        first = run_pipeline(out / f"{method}_seed{seed}", replace(base, seed=seed, method=method))
        _save(first, out / f"{method}_seed{seed}")
        if first.heldout_pass1_sft is None:
            raise SystemExit(f"SFT failed: {first.problems}")
        sft_model = first.workdir / "sft_checkpoints" / f"global_step_{base.sft_steps}" / "huggingface"
        sft_summary.write_text(
            json.dumps(
                {"model": str(sft_model), "pass1": first.heldout_pass1_sft, "wall_s": first.phases[0].wall_s}
            )
        )
    sft = json.loads(sft_summary.read_text())
    for seed in args.seeds:
        for method in args.methods:
            run_dir = out / f"{method}_seed{seed}"
            if not (run_dir / "summary.json").exists():
                print(f"== RL {method} seed {seed} ==", flush=True)
                result = run_pipeline(
                    run_dir, replace(base, seed=seed, method=method), sft=(Path(sft["model"]), sft["pass1"])
                )
                _save(result, run_dir)
            runs[method][seed] = json.loads((run_dir / "summary.json").read_text())
    return {"runs": runs, "wall_s": time.monotonic() - t0}


def collect(args: argparse.Namespace) -> dict:
    """The finished runs under --out (an interrupted or still running benchmark), without running anything."""
    runs: dict[str, dict[int, dict]] = {m: {} for m in args.methods}
    for method in args.methods:
        for seed in args.seeds:
            summary = args.out / f"{method}_seed{seed}" / "summary.json"
            if summary.exists():
                runs[method][seed] = json.loads(summary.read_text())
    runs = {m: by for m, by in runs.items() if by}
    if not runs:
        raise SystemExit(f"no finished runs under {args.out}")
    walls = [r["wall_s"] for by in runs.values() for r in by.values()]
    return {"runs": runs, "wall_s": sum(walls)}


def _save(result, run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "summary.json").write_text(json.dumps(result.summary(), indent=1, default=str))


def aggregate(runs: dict[str, dict[int, dict]]) -> dict:
    table = {}
    grpo = runs.get("grpo", {})
    for method, by_seed in runs.items():
        seeds = sorted(by_seed)
        sft = [by_seed[s]["heldout_pass1_sft"] for s in seeds]
        rl = [by_seed[s]["heldout_pass1_rl"] for s in seeds]
        gain = [r - s for r, s in zip(rl, sft)]
        row = {"seeds": seeds, "sft": mean_ci(sft), "rl": mean_ci(rl), "gain": mean_ci(gain), "rl_values": rl}
        paired = [by_seed[s]["heldout_pass1_rl"] - grpo[s]["heldout_pass1_rl"] for s in seeds if s in grpo]
        if method != "grpo" and paired:
            row["minus_grpo"] = mean_ci(paired)
        table[method] = row
    return table


def results_markdown(table: dict, meta: dict) -> str:
    lines = [
        "| method | seeds | SFT pass@1 | RL pass@1 | gain (points) | RL minus GRPO (paired) |",
        "|---|---|---|---|---|---|",
    ]
    for method, row in table.items():
        diff = _fmt(row["minus_grpo"]) if "minus_grpo" in row else "-"
        lines.append(
            f"| {method} | {len(row['seeds'])} | {_fmt(row['sft'])} | {_fmt(row['rl'])} | {_fmt(row['gain'])} | {diff} |"
        )
    lines += [
        "",
        (
            f"Percent, mean over seeds [95% t-interval]. Held-out pass@1 = {meta['eval_protocol']}. "
            f"SFT {meta['sft_steps']} steps, RL {meta['rl_steps']} steps per method. Machine: {meta['machine']}; "
            f"wall time {meta['wall_min']:.0f} min."
        ),
    ]
    return "\n".join(lines) + "\n"


def plot_curves(runs: dict[str, dict[int, dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    panels = (
        ("heldout_acc", "held-out accuracy (verl validation, 1 sample, T=1)"),
        ("train_reward", "mean training reward (+-1)"),
    )
    for ax, (key, title) in zip(axes, panels):
        for method, by_seed in runs.items():
            curves = [{int(k): v for k, v in s["curve"][key].items()} for s in by_seed.values()]
            steps = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
            if not steps:
                continue
            values = [[c[x] for c in curves] for x in steps]
            ax.plot(steps, [statistics.fmean(v) for v in values], label=f"{method} (n={len(curves)})")
            ax.fill_between(steps, [min(v) for v in values], [max(v) for v in values], alpha=0.2)
        ax.set_title(title)
        ax.set_xlabel("RL step")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="RL seeds (data order, sampling)")
    p.add_argument(
        "--data-seed", type=int, default=0, help="seed of the data, the model init and the one SFT run"
    )
    p.add_argument("--methods", nargs="+", choices=METHODS + G2RL_ABLATIONS, default=list(METHODS))
    p.add_argument("--sft-steps", type=int, default=DemoSettings.sft_steps)
    p.add_argument("--rl-steps", type=int, default=BENCHMARK_RL_STEPS)
    p.add_argument("--test-freq", type=int, default=DemoSettings.test_freq)
    p.add_argument(
        "--report-only", action="store_true", help="only tabulate the runs already finished under --out"
    )
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    done = collect(args) if args.report_only else run(args)
    table = aggregate(done["runs"])
    any_summary = next(iter(next(iter(done["runs"].values())).values()))
    meta = {
        "eval_protocol": any_summary["eval_protocol"],
        "sft_steps": args.sft_steps,
        "rl_steps": args.rl_steps,
        "machine": f"{platform.machine()} CPU, {_cores()} cores",
        "wall_min": done["wall_s"] / 60,
    }
    (args.out / "results.json").write_text(
        json.dumps({"table": table, "meta": meta, "runs": done["runs"]}, indent=1)
    )
    (args.out / "results.md").write_text(results_markdown(table, meta))
    plot_curves(done["runs"], args.out / "curves.png")
    print((args.out / "results.md").read_text())
    problems = [(m, s, p) for m, by in done["runs"].items() for s, r in by.items() for p in r["problems"]]
    for method, seed, problem in problems:
        print(f"PROBLEM {method} seed {seed}: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
