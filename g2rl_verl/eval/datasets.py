"""Benchmark datasets: the one parser of each shared benchmark file format, and the loaders of the
evaluation harness (file -> list of `Problem`). Formats are described in docs/data-and-eval.md,
"Benchmark files".

`parse_row(fmt, row)` is the single home of each format's field layout, problem id and gold: the
harness (`load_problems`) and data_prep's eval-sets builder (and its decontamination index) both call
it, so a benchmark gets the same problem ids - and therefore the same per-sample seeds - whichever
tool read it. Loaders take paths; nothing is downloaded. Each benchmark key doubles as the reward
router's data_source. Any file in our RL parquet/JSONL schema loads with format ``rl``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The G2RL / SimpleRL-Zoo system prompt (the G2RL paper's training and evaluation prompt).
SIMPLERL_SYSTEM_PROMPT = "Please reason step by step, and put your final answer within \\boxed{}."

# LiveCodeBench windows: (version tag, first contest date, last contest date), both inclusive, compared
# as midnight like the upstream filter (a problem later on the end date is out). Every eval result on
# an lcb_<name> data_source records its window.
LCB_WINDOWS: dict[str, tuple[str, str, str]] = {
    "v5": ("release_v5", "2024-08-01", "2025-02-01"),
    "v6": ("release_v6", "2025-02-01", "2025-05-01"),
}


class BenchmarkRowError(ValueError):
    """A row that does not have its format's fields; the message names the field."""


@dataclass(frozen=True)
class BenchmarkItem:
    """One parsed benchmark row: what every consumer of the file needs."""

    problem_id: str
    question: str
    gold: str
    extra: dict[str, Any] = field(default_factory=dict)  # per-problem fields for breakdowns


@dataclass(frozen=True)
class Problem:
    benchmark: str
    problem_id: str
    data_source: str
    messages: tuple[dict[str, str], ...]  # chat turns before the chat template
    ground_truth: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def gold_to_string(value: Any, key: str = "gold") -> str:
    """Golds are strings: integral floats become integer strings (AMC's 27.0 -> "27"), text is stripped;
    booleans, non-finite numbers and empty strings are refused."""
    if isinstance(value, bool):
        raise BenchmarkRowError(f"field '{key}' is a boolean, not an answer")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BenchmarkRowError(f"field '{key}' is not finite ({value})")
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise BenchmarkRowError(f"field '{key}' is not a usable answer ({type(value).__name__})")


def _get(row: dict, key: str, kind: type | tuple[type, ...] = str) -> Any:
    value: Any = row
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise BenchmarkRowError(f"missing field '{key}'")
        value = value[part]
    if value is None:
        raise BenchmarkRowError(f"field '{key}' is null")
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise BenchmarkRowError(f"field '{key}' has type {type(value).__name__}")
    return value


def _the_user_turn(row: dict) -> str:
    msgs = row.get("messages")
    if isinstance(msgs, str):
        try:
            msgs = json.loads(msgs)
        except json.JSONDecodeError:
            raise BenchmarkRowError("field 'messages' is a string that is not JSON chat turns") from None
    users = [m.get("content") for m in msgs or () if isinstance(m, dict) and m.get("role") == "user"]
    if not isinstance(msgs, list) or len(users) != 1 or not isinstance(users[0], str) or not users[0].strip():
        raise BenchmarkRowError("field 'messages' must hold exactly one non-empty user turn")
    return users[0].strip()


def _aime24(row: dict) -> BenchmarkItem:
    return BenchmarkItem(
        str(_get(row, "meta.unique_id", (str, int))),
        _the_user_turn(row),
        gold_to_string(_get(row, "meta.answer", (str, int)), "meta.answer"),
    )


def _aime25(row: dict) -> BenchmarkItem:
    # unique_id 0-14 are AIME 2025 I and 15-29 AIME 2025 II; Part restarts at 0 for II. The id comes
    # from the row's own fields, never its position, so a reordered or partial file keeps its ids.
    number = _get(row, "meta.unique_id", int)
    part = _get(row, "meta.Part", int)
    if not 0 <= number <= 29 or not 0 <= part <= 14:
        raise BenchmarkRowError(f"meta.unique_id {number} / meta.Part {part} outside AIME 2025's 0-29 / 0-14")
    exam = "I" if number < 15 else "II"
    gold = gold_to_string(_get(row, "meta.solution", (str, int)), "meta.solution")
    return BenchmarkItem(f"2025-{exam}-{part + 1}", _the_user_turn(row), gold)


def _hmmt_feb2025(row: dict) -> BenchmarkItem:
    pid = _get(row, "id", (int, str))
    return BenchmarkItem(
        f"hmmt_feb2025-{pid}", _the_user_turn(row), gold_to_string(_get(row, "answer", (str, int)), "answer")
    )


def _amc23(row: dict) -> BenchmarkItem:
    pid = _get(row, "id", (int, str))
    url = row.get("url") if isinstance(row.get("url"), str) else ""
    return BenchmarkItem(
        f"amc23-{pid}",
        _get(row, "problem").strip(),
        gold_to_string(_get(row, "answer", (int, float, str)), "answer"),
        {"url": url},
    )


def _math500(row: dict) -> BenchmarkItem:
    unique_id = _get(row, "unique_id")
    parts = unique_id.split("/")
    if len(parts) != 3:
        raise BenchmarkRowError(f"unique_id {unique_id!r} is not test/<subject>/<n>.json")
    difficulty = _get(row, "difficulty", (int, float))
    return BenchmarkItem(
        unique_id,
        _get(row, "problem").strip(),
        gold_to_string(_get(row, "answer", (str, int, float)), "answer"),
        {"level": int(difficulty), "subject": parts[1]},
    )


# format name -> row parser; the format name is also the benchmark key and the reward data_source
ROW_PARSERS: dict[str, Callable[[dict], BenchmarkItem]] = {
    "aime24": _aime24,
    "aime25": _aime25,
    "hmmt_feb2025": _hmmt_feb2025,
    "amc23": _amc23,
    "math500": _math500,
}


def parse_row(fmt: str, row: dict) -> BenchmarkItem:
    """Parse one row of a shared benchmark file; BenchmarkRowError names the missing/bad field."""
    if not isinstance(row, dict):
        raise BenchmarkRowError("row is not a JSON object")
    return ROW_PARSERS[fmt](row)


def read_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(1-based location, row) of a JSONL file or a JSON array file."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.lstrip().startswith("["):
        return [(f"{path}[{i}]", row) for i, row in enumerate(json.loads(text), start=1)]
    out = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                out.append((f"{path}:{line_no}", json.loads(line)))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{line_no}: invalid JSON ({e.msg})") from None
    return out


def load_benchmark_file(path: Path, fmt: str) -> list[Problem]:
    out = []
    for where, row in read_rows(path):
        try:
            item = parse_row(fmt, row)
        except BenchmarkRowError as e:
            raise ValueError(f"{where}: {e} ({fmt} format)") from None
        out.append(
            Problem(
                fmt,
                item.problem_id,
                fmt,
                ({"role": "user", "content": item.question},),
                item.gold,
                item.extra,
            )
        )
    return out


def load_rl_schema(path: Path, benchmark: str) -> list[Problem]:
    """Our RL schema in parquet or JSONL; problem id = extra_info.source_id, else index."""
    if path.suffix == ".parquet":
        import pandas as pd

        rows = [
            (f"{path} row {i}", r)
            for i, r in enumerate(pd.read_parquet(path).to_dict(orient="records"), start=1)
        ]
    else:
        rows = read_rows(path)
    out = []
    for i, (where, row) in enumerate(rows):
        for col in ("data_source", "prompt", "reward_model"):
            if col not in row:
                raise ValueError(f"{where}: missing column {col!r} (RL schema, see docs/data-and-eval.md)")
        extra_info = dict(row.get("extra_info") or {})
        pid = extra_info.get("source_id", extra_info.get("index", i))
        messages = tuple({"role": str(m["role"]), "content": str(m["content"])} for m in row["prompt"])
        keep = {
            k: v
            for k, v in extra_info.items()
            if k not in ("split", "index", "source_id", "source", "repeat")
            and isinstance(v, (str, int, float, bool))
        }
        try:
            gold = gold_to_string(row["reward_model"]["ground_truth"], "reward_model.ground_truth")
        except BenchmarkRowError as e:
            raise ValueError(f"{where}: {e}") from None
        out.append(Problem(benchmark, str(pid), str(row["data_source"]), messages, gold, keep))
    return out


def load_problems(benchmark: str, path: str | Path, fmt: str = "auto") -> list[Problem]:
    """Load ``path`` as ``benchmark``. ``fmt='auto'`` uses the benchmark's own parser when there is one,
    else the RL schema; ``fmt='rl'`` forces the RL schema."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"benchmark file {path} does not exist")
    if fmt == "rl" or (fmt == "auto" and benchmark not in ROW_PARSERS):
        problems = load_rl_schema(path, benchmark)
    elif fmt == "auto":
        problems = load_benchmark_file(path, benchmark)
    else:
        raise ValueError(f"unknown format {fmt!r}; use 'auto' or 'rl'")
    ids = [p.problem_id for p in problems]
    if len(set(ids)) != len(ids):
        raise ValueError(
            f"{path}: duplicate problem ids; each problem needs a unique id (an eval-sets file built with "
            "--repeat > 1 repeats every problem: rebuild it with --repeat 1 for this harness)"
        )
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
            sys_turn = ({"role": "system", "content": system_prompt},)
            out.append(
                Problem(
                    p.benchmark, p.problem_id, p.data_source, sys_turn + p.messages, p.ground_truth, p.extra
                )
            )
    return out
