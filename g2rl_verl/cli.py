"""The ``g2rl-verl`` console script. Subcommands: ``demo``."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    import json

    from g2rl_verl.demo import DemoSettings, print_summary, run_pipeline

    overrides = {
        k: v
        for k, v in {
            "method": args.method,
            "seed": args.seed,
            "sft_steps": args.sft_steps,
            "rl_steps": args.rl_steps,
            "resume_steps": args.resume_steps,
        }.items()
        if v is not None
    }
    settings = DemoSettings(**overrides)
    if args.workdir is None:
        with tempfile.TemporaryDirectory(prefix="g2rl_verl_demo_") as tmp:
            result = run_pipeline(Path(tmp), settings)
    else:
        result = run_pipeline(Path(args.workdir), settings)
    print_summary(result)
    if args.out is not None:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps(result.summary(), indent=1, default=str) + "\n")
        print(f"summary: {out / 'summary.json'}")
    if result.problems:
        print("g2rl-verl demo FAILED:\n  " + "\n  ".join(result.problems), file=sys.stderr)
        return 1
    print("g2rl-verl demo: OK (SFT -> RL with checkpoint + resume -> held-out evaluation)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="g2rl-verl", description="G2RL + GPPO for verl 0.9.1")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="SFT -> RL -> evaluation of a tiny model on a synthetic task, on CPU, in minutes",
        description="Builds synthetic addition data and a fresh tiny model offline, trains it with verl's SFT "
        "trainer, then with `python -m g2rl_verl.main` (GRPO, GPPO or G2RL; checkpoint + resume) on CPU, "
        "and prints its held-out pass@1 before and after RL. Settings: recipes/demo/config.",
    )
    demo.add_argument(
        "--method", choices=("grpo", "gppo", "g2rl"), default=None, help="RL method (default gppo)"
    )
    demo.add_argument("--out", help="write summary.json (pass@1 before/after, steps, method, curves) here")
    demo.add_argument("--workdir", help="keep model, data, logs and checkpoints here (default: a temp dir)")
    demo.add_argument("--seed", type=int, default=None, help="data, model and SFT seed (default 0)")
    demo.add_argument("--sft-steps", type=int, default=None, help="SFT steps (default: DemoSettings)")
    demo.add_argument("--rl-steps", type=int, default=None, help="RL steps before the checkpoint")
    demo.add_argument(
        "--resume-steps", type=int, default=None, help="RL steps of the resumed run (default 1)"
    )
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
