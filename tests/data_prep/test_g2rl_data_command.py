"""The G2RL data command: README.md and recipes/README.md give the same command, it parses, and it does
not decontaminate (the paper trains on the whole MATH train set; docs/data-and-eval.md)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from data_prep.cli import config_from_args, make_parser

ROOT = Path(__file__).resolve().parents[2]


def _readme_command() -> list[str]:
    [line] = [
        ln
        for ln in (ROOT / "README.md").read_text().splitlines()
        if ln.startswith("python -m data_prep rl-math") and "math_train" in ln
    ]
    return shlex.split(line)[3:]  # drop "python -m data_prep"


def _recipes_command() -> list[str]:
    [row] = [
        ln
        for ln in (ROOT / "recipes" / "README.md").read_text().splitlines()
        if ln.startswith("| `math_train.parquet`")
    ]
    return shlex.split(re.findall(r"`(rl-math [^`]*)`", row)[0])


def test_both_readmes_give_the_same_g2rl_command_without_decontamination():
    readme, recipes = _readme_command(), _recipes_command()
    assert readme == recipes
    cfg = config_from_args(make_parser().parse_args(readme))
    assert cfg.builder == "rl-math" and cfg.decontaminate == [] and cfg.prompt_style == "simplerl"
    assert cfg.inputs == ["../shared/data/math_train.parquet"]
