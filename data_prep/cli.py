"""Command line: ``python -m data_prep <builder> --input PATH ... --output OUT.parquet [options]``.

Builders: sft-longcot, rl-math, rl-code, eval-sets, synthetic (a toy task for CPU runs). Run ``python -m data_prep <builder> -h`` for the
options of one builder. Exit status: 0 on success or skip, 2 on a data_prep error (message on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from data_prep.errors import DataPrepError
from data_prep.pipeline import PROMPT_STYLES, BuildConfig, build


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--input",
        action="append",
        required=True,
        metavar="PATH",
        help="input file or directory (repeatable); a hub name owner/name only when the hub is reachable",
    )
    p.add_argument("--output", required=True, type=Path, metavar="OUT.parquet")
    p.add_argument("--report", type=Path, default=None, help="report JSON path (default OUT.report.json)")
    p.add_argument("--overwrite", action="store_true", help="rebuild even if OUT exists (default: skip)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", default=None, help="extra_info.split (default train; eval-sets: test)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument(
        "--workers",
        type=int,
        default=BuildConfig.workers,
        help="processes for math-verify gold checks (default min(4, CPUs)); output is identical",
    )


def _training_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--decontaminate",
        action="append",
        default=[],
        metavar="EVAL_FILE",
        help="evaluation file to decontaminate against (repeatable)",
    )
    p.add_argument("--ngram", type=int, default=9, help="word n-gram size for decontamination (default 9)")
    p.add_argument(
        "--boilerplate-rows",
        type=int,
        default=BuildConfig.boilerplate_rows,
        help="an n-gram found in this many distinct training problems is boilerplate and ignored (default 3)",
    )
    p.add_argument(
        "--min-shared-ngrams",
        type=int,
        default=BuildConfig.min_shared_ngrams,
        help="non-boilerplate n-grams a prompt must share with one eval item to be removed (default 3)",
    )
    p.add_argument(
        "--min-coverage",
        type=float,
        default=BuildConfig.min_coverage,
        help="or: share of both texts' n-grams covered by shared ones (same problem text; default 0.9)",
    )
    p.add_argument("--no-dedup", action="store_true", help="skip exact and normalised dedup")
    p.add_argument(
        "--pass-rate-file",
        metavar="ROLLOUTS.jsonl",
        help="rollout results: lines {source_id, correct} or {source_id, n, n_correct}",
    )
    p.add_argument(
        "--pass-rate",
        nargs=2,
        type=float,
        default=(0.0, 1.0),
        metavar=("LO", "HI"),
        help="keep prompts with LO <= pass rate <= HI (Klear: 0.5625 1, i.e. >= 9 of 16)",
    )
    p.add_argument(
        "--pass-rate-missing",
        choices=("drop", "keep"),
        default="drop",
        help="what to do with prompts that have no rollout results (default drop)",
    )
    p.add_argument("--tokenizer", metavar="DIR", help="local tokenizer directory for the token-length filter")
    p.add_argument("--max-tokens", type=int, help="token cap (SFT default 32768 when --tokenizer is given)")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data_prep", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="builder", required=True)

    p = sub.add_parser("sft-longcot", help="long-CoT SFT parquet (messages) for MultiTurnSFTDataset")
    _common(p)
    _training_filters(p)
    p.add_argument("--max-responses-per-prompt", type=int, default=16)

    p = sub.add_parser("rl-math", help="math RL parquet for RLHFDataset (golds validated with math-verify)")
    _common(p)
    _training_filters(p)
    p.add_argument(
        "--prompt-style",
        choices=PROMPT_STYLES,
        default="native",
        help="native: keep each source's prompt; raw: problem only; simplerl: G2RL system prompt",
    )
    p.add_argument("--data-source", help="override data_source (must be a name the reward router knows)")

    p = sub.add_parser("rl-code", help="code RL parquet with Klear-layout JSON test specs")
    _common(p)
    _training_filters(p)
    p.add_argument("--min-tests", type=int, default=16, help="drop problems with fewer tests (Klear: 16)")
    p.add_argument("--code-timeout", type=int, help="per-test timeout (s) written into specs lacking one")
    p.add_argument("--max-test-cases", type=int, help="max_test_cases written into specs lacking one")
    p.add_argument("--data-source", help="override data_source (must be a name the reward router knows)")

    p = sub.add_parser("eval-sets", help="validation parquet: AIME, HMMT, AMC, MATH-500, GPQA, MMLU-Pro, LCB")
    _common(p)
    p.add_argument("--repeat", type=int, default=1, help="rows per problem, for avg@k in verl validation")
    p.add_argument(
        "--prompt-style",
        choices=PROMPT_STYLES,
        default="native",
        help="math prompts: native/raw = question only (Klear); simplerl = G2RL system prompt",
    )
    p.add_argument("--lcb-window", choices=("v5", "v6"), help="LiveCodeBench contest-date window")

    p = sub.add_parser("synthetic", help="synthetic addition task: SFT + RL parquet with a held-out split")
    p.add_argument("--out-dir", required=True, type=Path, help="directory for the parquet files and report")
    p.add_argument("--digits", type=int, default=2, help="digits of each operand (default 2)")
    p.add_argument("--train", type=int, default=2000, help="training problems (default 2000)")
    p.add_argument("--heldout", type=int, default=200, help="held-out problems (default 200)")
    p.add_argument("--code-check", type=int, default=0, help="stdin/stdout code items for the sandbox path")
    p.add_argument(
        "--unboxed-fraction", type=float, default=0.5, help="share of SFT answers ending without \\boxed{}"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="rebuild even if the files exist")
    return parser


def config_from_args(args: argparse.Namespace) -> BuildConfig:
    get = lambda name, default=None: getattr(args, name, default)  # options differ per builder
    return BuildConfig(
        builder=args.builder,
        inputs=args.input,
        output=args.output,
        report=args.report,
        overwrite=args.overwrite,
        seed=args.seed,
        split=args.split,
        progress=not args.no_progress,
        workers=args.workers,
        dedup=not get("no_dedup", False),
        decontaminate=get("decontaminate", []) or [],
        ngram=get("ngram", 9),
        boilerplate_rows=get("boilerplate_rows", BuildConfig.boilerplate_rows),
        min_shared_ngrams=get("min_shared_ngrams", BuildConfig.min_shared_ngrams),
        min_coverage=get("min_coverage", BuildConfig.min_coverage),
        pass_rate_file=get("pass_rate_file"),
        pass_rate_range=tuple(get("pass_rate", (0.0, 1.0))),
        pass_rate_missing=get("pass_rate_missing", "drop"),
        tokenizer=get("tokenizer"),
        max_tokens=get("max_tokens"),
        max_responses_per_prompt=get("max_responses_per_prompt", 16),
        min_tests=get("min_tests", 16),
        prompt_style=get("prompt_style", "native"),
        data_source=get("data_source"),
        code_timeout=get("code_timeout"),
        max_test_cases=get("max_test_cases"),
        lcb_window=get("lcb_window"),
        repeat=get("repeat", 1),
    )


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        if args.builder == "synthetic":
            from data_prep.sources.synthetic import SyntheticConfig, build_synthetic

            report = build_synthetic(
                SyntheticConfig(
                    args.out_dir,
                    digits=args.digits,
                    train=args.train,
                    heldout=args.heldout,
                    seed=args.seed,
                    code_check=args.code_check,
                    unboxed_fraction=args.unboxed_fraction,
                    overwrite=args.overwrite,
                )
            )
            print(json.dumps(report["rows"]))
        else:
            build(config_from_args(args))
    except DataPrepError as e:
        print(f"data_prep: error: {e}", file=sys.stderr)
        return 2
    return 0
