"""Synthetic multi-digit addition with a short worked solution: a task a tiny model learns on a CPU in minutes.

``python -m data_prep synthetic --out-dir DIR [--digits 2 --train 2000 --heldout 200 --seed 0]`` writes,
in the same schemas as the real builders (``data_prep.schemas``):

- ``sft_train.parquet`` / ``sft_heldout.parquet`` (``SFT_SCHEMA``: messages, source, id), for verl's
  SFT trainer (``MultiTurnSFTDataset``, loss on the assistant turn);
- ``rl_train.parquet`` / ``rl_heldout.parquet`` (``rl_schema``: data_source, prompt, ability,
  reward_model, extra_info), for ``python -m g2rl_verl.main`` and ``python -m g2rl_verl.eval``;
- with ``--code-check N``: ``code_check.parquet``, N stdin/stdout programming items (``taco`` spec
  layout, scored by the code verifier through the sandbox), whose reference programs are also in the SFT
  set, so a model that learned them exercises the code reward path end to end;
- ``synthetic.report.json``: the settings, row counts and file hashes.

A problem is ``"47+38="`` (both operands have exactly ``digits`` digits). A worked answer is the column
addition right to left, one ``da+db[+1]=s`` step per column (``+1`` is the carry), then ``\\boxed{sum}``:
``"7+8=15 4+3+1=8 \\boxed{85}"``. A fraction ``--unboxed-fraction`` of the SFT answers ends in
``"answer 85"`` instead: same working, but no ``\\boxed{}``, which the strict extraction of our math
verifier scores as no answer. A model imitates both endings; RL has to discover from the verifier's
reward alone that the boxed one pays (learning the grader's answer format is the first thing RL on a
base model learns, and the cheapest to learn; the arithmetic itself improves more slowly).

The held-out problems are operand pairs that never occur in the training split. Everything is a function of the settings (same seed, same bytes); ``data_source`` is
``math``, which the reward router sends to the math verifier.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from data_prep.errors import DataPrepError
from data_prep.router_names import is_routable
from data_prep.schemas import SFT_SCHEMA, rl_schema
from data_prep.writer import AtomicParquetWriter, write_json_atomic

DATA_SOURCE = "math"  # the reward router's generic math verifier route
CODE_DATA_SOURCE = "taco"  # stdin/stdout specs, scored through the sandbox
SOURCE_NAME = "synthetic_addition"

# stdin/stdout tasks whose one-line reference programs are in the SFT set (--code-check)
CODE_TASKS = (
    ("code: echo the input", "print(input())", {"inputs": ["3\n", "12\n"], "outputs": ["3\n", "12\n"]}),
    (
        "code: double the input",
        "print(2*int(input()))",
        {"inputs": ["2\n", "7\n"], "outputs": ["4\n", "14\n"]},
    ),
    (
        "code: square the input",
        "print(int(input())**2)",
        {"inputs": ["3\n", "5\n"], "outputs": ["9\n", "25\n"]},
    ),
)


@dataclass(frozen=True)
class SyntheticConfig:
    out_dir: Path
    digits: int = 2
    train: int = 2000
    heldout: int = 200
    seed: int = 0
    code_check: int = 0
    unboxed_fraction: float = 0.5
    overwrite: bool = False

    def validate(self) -> None:
        if not 1 <= self.digits <= 6:
            raise DataPrepError(f"--digits must be in 1..6 (got {self.digits})")
        if self.train < 1 or self.heldout < 1:
            raise DataPrepError(f"--train and --heldout must be >= 1 (got {self.train}, {self.heldout})")
        if not 0.0 <= self.unboxed_fraction <= 1.0:
            raise DataPrepError(f"--unboxed-fraction must be in [0, 1] (got {self.unboxed_fraction})")
        if not 0 <= self.code_check <= len(CODE_TASKS):
            raise DataPrepError(f"--code-check must be in 0..{len(CODE_TASKS)} (got {self.code_check})")
        pairs = (9 * 10 ** (self.digits - 1)) ** 2
        if self.train + self.heldout > pairs:
            raise DataPrepError(
                f"--train + --heldout = {self.train + self.heldout} exceeds the {pairs} distinct "
                f"{self.digits}-digit operand pairs; lower them or raise --digits"
            )
        if not is_routable(DATA_SOURCE) or not is_routable(CODE_DATA_SOURCE):
            raise DataPrepError(f"the reward router does not know {DATA_SOURCE!r} / {CODE_DATA_SOURCE!r}")


def worked_solution(a: int, b: int, boxed: bool = True) -> str:
    """Column addition right to left, then the sum, boxed or not (operands of equal digit count)."""
    da, db = str(a), str(b)
    if len(da) != len(db):
        raise ValueError(f"operands {a} and {b} differ in digit count")
    steps, carry = [], 0
    for x, y in zip(reversed(da), reversed(db)):
        total = int(x) + int(y) + carry
        steps.append(f"{x}+{y}{'+1' if carry else ''}={total}")
        carry = total // 10
    return " ".join(steps) + (f" \\boxed{{{a + b}}}" if boxed else f" answer {a + b}")


def sample_pairs(cfg: SyntheticConfig) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Distinct operand pairs: (train, heldout), disjoint, in a seed-determined order."""
    rng = random.Random(cfg.seed)
    lo, hi = 10 ** (cfg.digits - 1), 10**cfg.digits - 1
    seen: set[tuple[int, int]] = set()
    pairs = []
    while len(pairs) < cfg.train + cfg.heldout:
        pair = (rng.randint(lo, hi), rng.randint(lo, hi))
        if pair not in seen:
            seen.add(pair)
            pairs.append(pair)
    return pairs[: cfg.train], pairs[cfg.train :]


def _rl_row(a: int, b: int, split: str, index: int) -> dict:
    return {
        "data_source": DATA_SOURCE,
        "prompt": [{"role": "user", "content": f"{a}+{b}="}],
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": str(a + b)},
        "extra_info": {"split": split, "index": index, "source_id": f"{a}+{b}", "source": SOURCE_NAME},
    }


def _sft_row(a: int, b: int, boxed: bool = True) -> dict:
    return {
        "messages": [
            {"role": "user", "content": f"{a}+{b}="},
            {"role": "assistant", "content": worked_solution(a, b, boxed)},
        ],
        "source": SOURCE_NAME,
        "id": f"{a}+{b}",
    }


def _code_rows(n: int) -> tuple[list[dict], list[dict]]:
    sft, rl = [], []
    for index, (prompt, program, spec) in enumerate(CODE_TASKS[:n]):
        answer = f"```python\n{program}\n```"
        sft.append(
            {
                "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
                "source": "synthetic_code",
                "id": f"code{index}",
            }
        )
        rl.append(
            {
                "data_source": CODE_DATA_SOURCE,
                "prompt": [{"role": "user", "content": prompt}],
                "ability": "code",
                "reward_model": {"style": "rule", "ground_truth": json.dumps(spec)},
                "extra_info": {
                    "split": "test",
                    "index": index,
                    "source_id": f"code{index}",
                    "source": "synthetic_code",
                },
            }
        )
    return sft, rl


def _write(path: Path, schema, rows: list[dict]) -> str:
    with AtomicParquetWriter(path, schema) as writer:
        for row in rows:
            writer.write(row)
        digest = writer.close_tmp()
        writer.commit()
    return digest


def build_synthetic(cfg: SyntheticConfig) -> dict:
    """Write the files (atomically, each or none) and return the report; skip when they all exist."""
    cfg.validate()
    names = ["sft_train", "sft_heldout", "rl_train", "rl_heldout"] + (
        ["code_check"] if cfg.code_check else []
    )
    paths = {name: cfg.out_dir / f"{name}.parquet" for name in names}
    report_path = cfg.out_dir / "synthetic.report.json"
    if not cfg.overwrite and report_path.exists() and all(p.exists() for p in paths.values()):
        previous = json.loads(report_path.read_text())
        if previous.get("settings") == _settings(cfg):
            return previous
        raise DataPrepError(
            f"{cfg.out_dir} holds synthetic data built with other settings ({previous.get('settings')}); "
            "pass --overwrite or choose another --out-dir"
        )
    train, heldout = sample_pairs(cfg)
    rows: dict[str, list[dict]] = {
        # unboxed: the first round(unboxed_fraction * train) problems (a random subset: pairs are shuffled)
        "sft_train": [
            _sft_row(a, b, boxed=i >= round(cfg.unboxed_fraction * len(train)))
            for i, (a, b) in enumerate(train)
        ],
        "sft_heldout": [_sft_row(a, b) for a, b in heldout],
        "rl_train": [_rl_row(a, b, "train", i) for i, (a, b) in enumerate(train)],
        "rl_heldout": [_rl_row(a, b, "test", i) for i, (a, b) in enumerate(heldout)],
    }
    if cfg.code_check:
        code_sft, code_rl = _code_rows(cfg.code_check)
        # a few copies so the SFT budget that teaches addition also teaches the programs
        copies = max(1, len(train) // (20 * len(code_sft)))
        rows["sft_train"] += code_sft * copies
        rows["code_check"] = code_rl
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    hashes = {}
    for name, path in paths.items():
        schema = SFT_SCHEMA if name.startswith("sft") else rl_schema([])
        hashes[path.name] = _write(path, schema, rows[name])
    report = {
        "builder": "synthetic",
        "settings": _settings(cfg),
        "rows": {paths[name].name: len(rows[name]) for name in names},
        "sha256": hashes,
    }
    write_json_atomic(report_path, report)
    return report


def _settings(cfg: SyntheticConfig) -> dict:
    settings = asdict(cfg)
    settings.pop("out_dir")
    settings.pop("overwrite")
    settings["task"] = "addition"
    return settings
