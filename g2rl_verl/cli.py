"""The ``g2rl-verl`` console script. Subcommands: ``demo``."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from g2rl_verl.demo import DemoSettings, run_demo

    settings = DemoSettings(steps=args.steps, resume_steps=args.resume_steps)
    if args.workdir is None:
        with tempfile.TemporaryDirectory(prefix="g2rl_verl_demo_") as tmp:
            *_, problems = run_demo(Path(tmp), settings)
    else:
        *_, problems = run_demo(Path(args.workdir), settings)
    if problems:
        print("g2rl-verl demo FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("g2rl-verl demo: OK (trained, checkpointed, resumed; rewards from g2rl_verl.rewards.router)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="g2rl-verl", description="G2RL + GPPO for verl 0.9.1")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="train a tiny random model for a few G2RL + GPPO steps on CPU, checkpoint, resume",
        description="Builds a tiny random model and toy math/code data offline, then runs verl's trainer "
        "through `python -m g2rl_verl.main` on CPU (HF rollout backend), saves a checkpoint and resumes.",
    )
    demo.add_argument("--workdir", help="keep model, data, logs and checkpoints here (default: a temp dir)")
    demo.add_argument("--steps", type=int, default=3, help="training steps of the first run (default 3)")
    demo.add_argument("--resume-steps", type=int, default=1, help="steps of the resumed run (default 1)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
