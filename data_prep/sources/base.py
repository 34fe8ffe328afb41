"""The source-shape abstraction shared by all builders.

A `SourceShape` recognises a dataset layout by its columns (its `signature`) and converts one raw row
into zero or more `Example`s (several for sources with multiple responses per prompt). Detection picks
the shape with the largest matching signature; no match, or a tie, is a `DataPrepError` that lists the
columns found and, for the closest shape, the columns it lacks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from data_prep.errors import DataPrepError, RowError
from g2rl_verl.eval.datasets import SIMPLERL_SYSTEM_PROMPT, BenchmarkRowError, gold_to_string

__all__ = ["SIMPLERL_SYSTEM_PROMPT"]  # re-exported for the source modules; defined in eval.datasets


@dataclass
class Example:
    """One output row before filtering and indexing.

    `problem` is the text dedup and decontamination look at (the bare question, never a prompt
    template); `row` holds the output columns, with `extra_info` missing `split`/`index` (added when
    written). `response` (SFT) joins the dedup key; `num_tests` (code) feeds the min-tests filter;
    `gold` (math; every entry of `golds` when a source lists several) is validated with math-verify.
    """

    source_id: str
    problem: str
    row: dict
    response: str | None = None
    num_tests: int | None = None
    test_format: str | None = None
    gold: str | None = None
    golds: list[str] | None = None  # every accepted answer when a source lists several (gold = golds[0])
    source: str = ""  # the source shape name, set by the pipeline
    location: str = ""  # "file:N" (N = 1-based line or row number), set by the pipeline


@dataclass
class Rejected:
    """One item of a row that cannot be used (e.g. one truncated response of several)."""

    reason: str


@dataclass
class Filtered:
    """A valid row that a source-level filter leaves out (e.g. outside the LiveCodeBench window)."""

    filter_name: str


@dataclass
class ConvertOptions:
    """Per-build conversion choices (validated by the CLI)."""

    prompt_style: str = "native"  # native | raw | simplerl
    data_source: str | None = None  # override the output data_source
    seed: int = 0
    code_timeout: int | None = None
    max_test_cases: int | None = None
    lcb_window: tuple[str, str, str] | None = None  # (name, start YYYY-MM-DD, end YYYY-MM-DD)


@dataclass(frozen=True)
class SourceShape:
    name: str
    builder: str
    signature: frozenset[str]
    required: frozenset[str]
    licence: str
    convert: Callable[[dict, ConvertOptions], Iterable[Example | Rejected]]
    # per-source extra_info fields (name, arrow type); absent ones are null in rows of other sources
    extra_fields: tuple[tuple[str, pa.DataType], ...] = field(default_factory=tuple)
    description: str = ""
    gold_lists: bool = False  # rows may list several accepted answers (Skywork-OR1)


def detect_shape(path: Path, columns: frozenset[str], shapes: list[SourceShape], builder: str) -> SourceShape:
    matches = [s for s in shapes if s.signature <= columns]
    if matches:
        best = max(len(s.signature) for s in matches)
        top = [s for s in matches if len(s.signature) == best]
        if len(top) > 1:
            raise DataPrepError(
                f"{path}: columns match several {builder} source shapes equally well "
                f"({', '.join(s.name for s in top)}); convert the file to one layout first"
            )
        shape = top[0]
        missing = shape.required - columns
        if missing:
            raise DataPrepError(
                f"{path}: looks like source shape '{shape.name}' but lacks column(s) "
                f"{', '.join(sorted(missing))}"
            )
        return shape
    closest = min(shapes, key=lambda s: (len(s.signature - columns), s.name))
    known = "; ".join(f"{s.name} ({', '.join(sorted(s.signature))})" for s in shapes)
    raise DataPrepError(
        f"{path}: unknown {builder} source shape. Columns found: {', '.join(sorted(columns))}. "
        f"Closest known shape '{closest.name}' lacks column(s) "
        f"{', '.join(sorted(closest.signature - columns))}. Known shapes: {known}"
    )


# --- small row helpers shared by the source modules -------------------------------------------


def field_of(row: dict, key: str, kind: type | tuple[type, ...] = str, allow_empty: bool = False):
    """row[key] (dotted keys reach one level down) checked for type and emptiness, else RowError."""
    value = row
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise RowError(f"missing field '{key}'")
        value = value[part]
    if value is None:
        raise RowError(f"field '{key}' is null")
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise RowError(f"field '{key}' has type {type(value).__name__}, expected {kind}")
    if not allow_empty and isinstance(value, str | list) and len(value) == 0:
        raise RowError(f"field '{key}' is empty")
    return value


def chat_turns(messages, key: str) -> list[dict]:
    """Validate a list of {role, content} chat turns (roles/contents must be non-empty strings)."""
    if isinstance(messages, str):
        try:
            messages = json.loads(messages)
        except json.JSONDecodeError:
            raise RowError(f"field '{key}' is a string that is not JSON chat turns") from None
    if not isinstance(messages, list) or not messages:
        raise RowError(f"field '{key}' is not a non-empty list of chat turns")
    turns = []
    for i, m in enumerate(messages):
        if (
            not isinstance(m, dict)
            or not isinstance(m.get("role"), str)
            or not isinstance(m.get("content"), str)
        ):
            raise RowError(f"field '{key}[{i}]' is not a {{role, content}} turn of strings")
        turns.append({"role": m["role"], "content": m["content"]})
    return turns


def user_text(turns: list[dict], key: str) -> str:
    users = [t["content"] for t in turns if t["role"] == "user"]
    if len(users) != 1 or not users[0].strip():
        raise RowError(f"field '{key}' must hold exactly one non-empty user turn, found {len(users)}")
    return users[0]


def answer_string(value, key: str) -> str:
    """A gold answer as a string (the shared rule, `g2rl_verl.eval.datasets.gold_to_string`)."""
    try:
        return gold_to_string(value, key)
    except BenchmarkRowError as e:
        raise RowError(str(e)) from None


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (or \\fbox{...}) with balanced braces, or None."""
    for marker in ("\\boxed{", "\\fbox{"):
        start = text.rfind(marker)
        if start < 0:
            continue
        i, depth = start + len(marker), 1
        while i < len(text):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    return text[start + len(marker) : i].strip()
            i += 1
    return None


def math_prompt(problem: str, style: str) -> list[dict]:
    if style == "simplerl":
        return [{"role": "system", "content": SIMPLERL_SYSTEM_PROMPT}, {"role": "user", "content": problem}]
    return [{"role": "user", "content": problem}]
