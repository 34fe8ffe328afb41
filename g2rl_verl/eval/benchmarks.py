"""Benchmark loaders: file -> list of `Problem` (data-eval.md §6 field layouts).

Loaders take paths; nothing is downloaded. Each benchmark key doubles as the reward router's
data_source (rewards.md §6: `aime24`, `aime25`, `hmmt_feb2025`, `amc23`, `math500` are known names).
Any file in our RL parquet/JSONL schema (data-eval.md §1) loads with format ``rl``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The G2RL / SimpleRL-Zoo system prompt (g2rl.md §5).
SIMPLERL_SYSTEM_PROMPT = "Please reason step by step, and put your final answer within \\boxed{}."


@dataclass(frozen=True)
class Problem:
    benchmark: str
    problem_id: str
    data_source: str
    messages: tuple[dict[str, str], ...]  # chat turns before the chat template
    ground_truth: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def gold_to_string(value: Any, where: str) -> str:
    """Golds are strings; integral floats become integer strings (AMC's 27.0 -> "27")."""
    if isinstance(value, bool):
        raise TypeError(f"{where}: boolean gold {value!r}")
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, (int, str)):
        return str(value)
    raise TypeError(f"{where}: unsupported gold type {type(value).__name__}")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _user(text: str) -> tuple[dict[str, str], ...]:
    return ({"role": "user", "content": text},)


def _single_user_turn(row: dict[str, Any], where: str) -> tuple[dict[str, str], ...]:
    msgs = row.get("messages")
    if not msgs or len(msgs) != 1 or msgs[0].get("role") != "user":
        raise ValueError(f"{where}: expected exactly one user message in 'messages'")
    return _user(msgs[0]["content"])


def load_aime24(path: Path) -> list[Problem]:
    out = []
    for i, row in enumerate(_read_jsonl(path)):
        where = f"{path}:{i + 1}"
        meta = row["meta"]
        out.append(
            Problem(
                "aime24",
                str(meta["unique_id"]),
                "aime24",
                _single_user_turn(row, where),
                gold_to_string(meta["answer"], where),
            )
        )
    return out


def load_aime25(path: Path) -> list[Problem]:
    out = []
    for i, row in enumerate(_read_jsonl(path)):
        where = f"{path}:{i + 1}"
        meta = row["meta"]
        # rows 0-14 are AIME 2025 I, rows 15-29 AIME 2025 II; `Part` restarts at 0 on row 15
        exam = "I" if i < 15 else "II"
        out.append(
            Problem(
                "aime25",
                f"2025-{exam}-{int(meta['Part']) + 1}",
                "aime25",
                _single_user_turn(row, where),
                gold_to_string(meta["solution"], where),
            )
        )
    return out


def load_hmmt_feb2025(path: Path) -> list[Problem]:
    out = []
    for i, row in enumerate(_read_jsonl(path)):
        where = f"{path}:{i + 1}"
        out.append(
            Problem(
                "hmmt_feb2025",
                str(row["id"]),
                "hmmt_feb2025",
                _single_user_turn(row, where),
                gold_to_string(row["answer"], where),
            )
        )
    return out


def load_amc23(path: Path) -> list[Problem]:
    out = []
    for i, row in enumerate(_read_jsonl(path)):
        where = f"{path}:{i + 1}"
        out.append(
            Problem(
                "amc23",
                str(row["id"]),
                "amc23",
                _user(row["problem"]),
                gold_to_string(row["answer"], where),
                {"url": row.get("url", "")},
            )
        )
    return out


def load_math500(path: Path) -> list[Problem]:
    with open(path, encoding="utf-8") as f:
        rows = json.load(f)
    out = []
    for i, row in enumerate(rows):
        where = f"{path}[{i}]"
        subject = row["unique_id"].split("/")[1]
        out.append(
            Problem(
                "math500",
                row["unique_id"],
                "math500",
                _user(row["problem"]),
                gold_to_string(row["answer"], where),
                {"level": int(row["difficulty"]), "subject": subject},
            )
        )
    return out


def load_rl_schema(path: Path, benchmark: str) -> list[Problem]:
    """Our RL schema (data-eval.md §1) in parquet or JSONL; problem id = extra_info.source_id, else index."""
    if path.suffix == ".parquet":
        import pandas as pd

        rows = pd.read_parquet(path).to_dict(orient="records")
    else:
        rows = _read_jsonl(path)
    out = []
    for i, row in enumerate(rows):
        where = f"{path} row {i}"
        for col in ("data_source", "prompt", "reward_model"):
            if col not in row:
                raise ValueError(f"{where}: missing column {col!r} (RL schema, data-eval.md §1)")
        extra_info = dict(row.get("extra_info") or {})
        pid = extra_info.get("source_id", extra_info.get("index", i))
        messages = tuple({"role": str(m["role"]), "content": str(m["content"])} for m in row["prompt"])
        keep = {
            k: v
            for k, v in extra_info.items()
            if k not in ("split", "index", "source_id") and isinstance(v, (str, int, float, bool))
        }
        out.append(
            Problem(
                benchmark,
                str(pid),
                str(row["data_source"]),
                messages,
                gold_to_string(row["reward_model"]["ground_truth"], where),
                keep,
            )
        )
    return out


LOADERS: dict[str, Callable[[Path], list[Problem]]] = {
    "aime24": load_aime24,
    "aime25": load_aime25,
    "hmmt_feb2025": load_hmmt_feb2025,
    "amc23": load_amc23,
    "math500": load_math500,
}


def load_problems(benchmark: str, path: str | Path, fmt: str = "auto") -> list[Problem]:
    """Load ``path`` as ``benchmark``. ``fmt='auto'`` uses the benchmark's own loader when there is one,
    else the RL schema; ``fmt='rl'`` forces the RL schema."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"benchmark file {path} does not exist")
    if fmt == "rl" or (fmt == "auto" and benchmark not in LOADERS):
        problems = load_rl_schema(path, benchmark)
    elif fmt == "auto":
        problems = LOADERS[benchmark](path)
    else:
        raise ValueError(f"unknown format {fmt!r}; use 'auto' or 'rl'")
    ids = [p.problem_id for p in problems]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate problem ids; each problem needs a unique id")
    if not problems:
        raise ValueError(f"{path}: no problems")
    return problems


def with_system_prompt(problems: list[Problem], system_prompt: str | None) -> list[Problem]:
    """Prepend a system turn to problems that have none (the G2RL protocol; Klear uses none)."""
    if not system_prompt:
        return problems
    out = []
    for p in problems:
        if p.messages and p.messages[0]["role"] == "system":
            out.append(p)
        else:
            out.append(
                Problem(
                    p.benchmark,
                    p.problem_id,
                    p.data_source,
                    ({"role": "system", "content": system_prompt},) + p.messages,
                    p.ground_truth,
                    p.extra,
                )
            )
    return out
