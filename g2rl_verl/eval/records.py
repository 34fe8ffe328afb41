"""Per-sample evaluation records and their append-only JSONL files (docs/data-and-eval.md, "Evaluation harness").

Two files per benchmark:
- ``<benchmark>.generations.jsonl``: one `GenerationRecord` per (problem_id, sample_idx), appended as
  samples finish, so an interrupted run resumes where it stopped;
- ``<benchmark>.scored.jsonl``: the generation fields plus the verifier's verdict (`ScoredRecord`),
  rewritten atomically by every `score` run, so a different verifier can re-grade without regenerating.

A sidecar ``<benchmark>.run.json`` records the sampling settings, the model, the dataset file hash and
the settings hash every generation line carries.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def stable_hash(obj: Any, length: int = 16) -> str:
    """sha256 of the canonical JSON of ``obj`` (sorted keys, no whitespace), hex-truncated."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class GenerationRecord:
    benchmark: str
    problem_id: str
    sample_idx: int
    seed: int  # the per-sample sampling seed actually passed to the engine
    data_source: str  # routing key of the reward code
    ground_truth: str
    prompt_hash: str
    config_hash: str  # hash of every setting that changes the output distribution (see SamplingConfig)
    model: str
    model_revision: str | None
    response: str
    finish_reason: str  # "stop" | "length" | engine-specific
    prompt_tokens: int
    completion_tokens: int
    truncated: bool  # the sample hit max_tokens
    extra: dict[str, Any] = field(default_factory=dict)  # per-problem fields for breakdowns (level, subject)

    @property
    def key(self) -> tuple[str, int]:
        return (self.problem_id, self.sample_idx)


@dataclass
class ScoredRecord(GenerationRecord):
    pred: str | None = None  # raw extracted answer (math/mc) or code hash
    vote: str | None = None  # canonical answer string maj@k votes on; None = does not vote
    kind: str = ""  # correct | wrong | no_answer | format_error | timeout | error
    score: float = 0.0  # the training profile's scalar
    score01: float = 0.0
    correct: bool = False  # kind == correct
    valid: bool = True  # False for timeout / error (infrastructure failures)
    response_chars: int = 0
    verifier: str = ""  # reward package + settings used, so re-grades are distinguishable
    grading_latency_s: float = 0.0


_GEN_FIELDS = {f.name for f in dataclasses.fields(GenerationRecord)}
_SCORED_FIELDS = {f.name for f in dataclasses.fields(ScoredRecord)}


def _from_dict(cls: type, names: set[str], d: dict[str, Any], where: str):
    missing = sorted(n for n in names if n not in d and n not in _DEFAULTED[cls])
    if missing:
        raise ValueError(f"{where}: record lacks field(s) {missing}; is this a {cls.__name__} file?")
    return cls(**{k: v for k, v in d.items() if k in names})


_DEFAULTED = {
    GenerationRecord: {"extra"},
    ScoredRecord: {"extra"} | (_SCORED_FIELDS - _GEN_FIELDS),
}


def read_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object). A torn final line (no trailing newline, e.g. a killed writer) is an
    error here; `repair_torn_tail` removes it explicitly."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(
                    f"{path}:{lineno}: not valid JSON ({e}); if the writer was killed, "
                    "rerun `generate` to repair the file"
                ) from e


def read_generations(path: str | os.PathLike) -> list[GenerationRecord]:
    return [_from_dict(GenerationRecord, _GEN_FIELDS, d, f"{path}:{n}") for n, d in read_jsonl(path)]


def read_scored(path: str | os.PathLike) -> list[ScoredRecord]:
    return [_from_dict(ScoredRecord, _SCORED_FIELDS, d, f"{path}:{n}") for n, d in read_jsonl(path)]


def repair_torn_tail(path: str | os.PathLike) -> bool:
    """Drop an incomplete final line left by an interrupted append. Returns True if one was removed."""
    p = Path(path)
    if not p.exists() or p.stat().st_size == 0:
        return False
    data = p.read_bytes()
    if data.endswith(b"\n"):
        return False
    keep = data[: data.rfind(b"\n") + 1]
    atomic_write_bytes(p, keep)
    return True


def append_records(path: str | os.PathLike, records: Iterable[GenerationRecord]) -> None:
    """Append records and fsync, so a finished batch survives a crash."""
    with open(path, "a", encoding="utf-8") as f:
        f.writelines(json.dumps(dataclasses.asdict(r), ensure_ascii=False) + "\n" for r in records)
        f.flush()
        os.fsync(f.fileno())


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_records(path: str | os.PathLike, records: Iterable[GenerationRecord]) -> None:
    atomic_write_text(
        path, "".join(json.dumps(dataclasses.asdict(r), ensure_ascii=False) + "\n" for r in records)
    )
