"""Streaming readers for input files, and resolution of `--input` arguments to local files.

Formats: parquet (iterated by record batch, never loaded whole), JSONL (optionally .gz, one line at a
time), CSV (GPQA), and JSON arrays (parsed element by element with `iter_json_array`, so a multi-GB
array such as KlearReasoner-CodeSub-15K's single .json file is never held in memory). Row numbers
are 1-based: the line number for JSONL and CSV (as an editor shows it), the element number for JSON
arrays and the row number for parquet.

A hub dataset name (``owner/name``) is tried only when it is not a local path and only if the hub can
be reached; otherwise the error asks for local files.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from data_prep.errors import DataPrepError

_DATA_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".json", ".json.gz", ".csv")
_HUB_NAME_RE = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_PARQUET_BATCH_ROWS = 1024
_JSON_CHUNK_CHARS = 1 << 20
_NUMBER_CHARS = frozenset("0123456789+-.eE")


class BadLine:
    """A line that could not be decoded; yielded in place of a row so the caller can report it."""

    def __init__(self, reason: str):
        self.reason = reason


def _format_of(path: Path) -> str:
    name = path.name.lower()
    for suffix in _DATA_SUFFIXES:
        if name.endswith(suffix):
            return suffix.removesuffix(".gz").lstrip(".")
    raise DataPrepError(f"{path}: unsupported file type; use one of {', '.join(_DATA_SUFFIXES)}")


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def _is_json_array(path: Path) -> bool:
    with _open_text(path) as f:
        while ch := f.read(1):
            if not ch.isspace():
                return ch == "["
    return False


@dataclass(frozen=True)
class InputFile:
    """A local data file with its format, its column set and (when cheap to know) its row count."""

    path: Path
    fmt: str  # parquet | jsonl | json | csv
    columns: frozenset[str]  # top-level names plus one nested level as "parent.child"
    num_rows: int | None

    def rows(self) -> Iterator[tuple[int, dict | BadLine]]:
        """(1-based row number, row dict or BadLine) in file order."""
        if self.fmt == "parquet":
            pf = pq.ParquetFile(self.path)
            row_no = 0
            for batch in pf.iter_batches(batch_size=_PARQUET_BATCH_ROWS):
                for row in batch.to_pylist():
                    row_no += 1
                    yield row_no, row
        elif self.fmt == "csv":
            with _open_text(self.path) as f:
                reader = csv.DictReader(f)
                for row in reader:
                    yield reader.line_num, row  # the line the record ends on (the header is line 1)
        elif self.fmt == "json" and _is_json_array(self.path):
            with _open_text(self.path) as f:
                for row_no, row in enumerate(iter_json_array(f, str(self.path)), start=1):
                    yield row_no, row if isinstance(row, dict) else BadLine("array element is not an object")
        else:  # JSONL (a .json file holding one object per line is read the same way)
            with _open_text(self.path) as f:
                for row_no, line in enumerate(f, start=1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as e:
                        yield row_no, BadLine(f"invalid JSON: {e.msg} at column {e.colno}")
                        continue
                    yield row_no, row if isinstance(row, dict) else BadLine("line is not a JSON object")


def iter_json_array(f: io.TextIOBase, where: str, chunk_chars: int = _JSON_CHUNK_CHARS) -> Iterator:
    """The elements of a top-level JSON array, decoded one at a time from `f`.

    Memory holds one element plus one chunk: the buffer is refilled until `raw_decode` can parse the
    next complete element, and consumed text is dropped. A malformed array raises DataPrepError naming
    the element number (JSON cannot resynchronise after a syntax error, so nothing later is trusted).
    """
    decoder = json.JSONDecoder()
    buf, pos, eof, number = "", 0, False, 0

    def fill(size: int = chunk_chars) -> bool:
        nonlocal buf, pos, eof
        chunk = f.read(size)
        if not chunk:
            eof = True
            return False
        buf = buf[pos:] + chunk
        pos = 0
        return True

    def skip_space() -> None:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos].isspace():
                pos += 1
            if pos < len(buf) or not fill():
                return

    skip_space()
    if pos >= len(buf) or buf[pos] != "[":
        raise DataPrepError(f"{where}: not a JSON array")
    pos += 1
    expect_value = True  # right after "[" or ","
    first = True
    while True:
        skip_space()
        if pos >= len(buf):
            raise DataPrepError(f"{where}: JSON array ends early after element {number} (truncated file?)")
        ch = buf[pos]
        if ch == "]" and (first or not expect_value):
            pos += 1
            skip_space()
            if pos < len(buf):
                raise DataPrepError(f"{where}: unexpected text after the JSON array's closing ']'")
            return
        if not expect_value:
            if ch != ",":
                raise DataPrepError(f"{where}: expected ',' or ']' after element {number}, found {ch!r}")
            pos += 1
            expect_value = True
            continue
        while True:
            try:
                value, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError as e:
                # an element cut by the chunk boundary fails to decode: read more (doubling the
                # pending text, so a huge element costs O(size log size), not O(size^2)) and retry
                if not eof and fill(max(chunk_chars, len(buf) - pos)):
                    continue
                raise DataPrepError(f"{where}: element {number + 1} is not valid JSON ({e.msg})") from None
            # a number cut by the chunk boundary decodes as its prefix ("-1" of "-1.5e3"): a number must
            # be followed by a character that cannot continue it
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            cut = end == len(buf) or (is_number and buf[end] in _NUMBER_CHARS)
            if cut and not eof and fill(chunk_chars):
                continue
            break
        number += 1
        pos = end
        first = False
        expect_value = False
        yield value


def _flatten_keys(row: dict) -> set[str]:
    keys = set(row)
    for k, v in row.items():
        if isinstance(v, dict):
            keys.update(f"{k}.{sub}" for sub in v)
    return keys


def open_input(path: Path) -> InputFile:
    """Inspect a local file: format, columns (from the schema or the first row) and row count."""
    fmt = _format_of(path)
    if fmt == "parquet":
        pf = pq.ParquetFile(path)
        cols: set[str] = set()
        for field in pf.schema_arrow:
            cols.add(field.name)
            if pa.types.is_struct(field.type):
                cols.update(f"{field.name}.{field.type.field(i).name}" for i in range(field.type.num_fields))
        return InputFile(path, fmt, frozenset(cols), pf.metadata.num_rows)
    probe = InputFile(path, fmt, frozenset(), None)
    for _, row in probe.rows():
        if isinstance(row, dict):
            return InputFile(path, fmt, frozenset(_flatten_keys(row)), None)
        break
    raise DataPrepError(f"{path}: no readable first row, so its source shape cannot be recognised")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _data_files_in(directory: Path) -> list[Path]:
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.name.lower().endswith(_DATA_SUFFIXES))
    if not files:
        raise DataPrepError(f"{directory}: directory holds no data files ({', '.join(_DATA_SUFFIXES)})")
    return files


def _download_from_hub(name: str) -> Path:
    try:
        from huggingface_hub import snapshot_download

        local = snapshot_download(name, repo_type="dataset", allow_patterns=[f"*{s}" for s in _DATA_SUFFIXES])
    except Exception as e:  # noqa: BLE001 - any failure (offline, unknown repo, gated) ends in the same advice
        raise DataPrepError(
            f"--input {name!r} is not a local file, and the dataset hub could not be reached for it "
            f"({type(e).__name__}). This machine may be offline: download the dataset files "
            "elsewhere and pass their local paths with --input."
        ) from None
    return Path(local)


def resolve_inputs(specs: list[str]) -> list[Path]:
    """Map each --input to local files: a file, every data file of a directory, or a hub snapshot."""
    paths: list[Path] = []
    for spec in specs:
        p = Path(spec)
        if p.is_file():
            paths.append(p)
        elif p.is_dir():
            paths.extend(_data_files_in(p))
        elif not os.path.isabs(spec) and _HUB_NAME_RE.fullmatch(spec):
            paths.extend(_data_files_in(_download_from_hub(spec)))
        else:
            raise DataPrepError(f"--input {spec!r}: no such file or directory")
    return paths
