"""Atomic, incremental parquet writing: rows go to a temporary file next to the target, flushed in
fixed-size row groups under a fixed schema; only `commit()` renames it into place. Any exception (or
Ctrl-C) before that removes the temporary file, so a failed run never leaves a partial output.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP_ROWS = 4096


def _tmp_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.tmp-{os.getpid()}")


class AtomicParquetWriter:
    def __init__(self, target: Path, schema: pa.Schema, row_group_rows: int = ROW_GROUP_ROWS):
        self.target = target
        self.schema = schema
        self.tmp = _tmp_path(target)
        self.row_group_rows = row_group_rows
        self._buffer: list[dict] = []
        self._writer: pq.ParquetWriter | None = None
        self.rows = 0

    def __enter__(self) -> AtomicParquetWriter:  # noqa: PYI034
        self.target.parent.mkdir(parents=True, exist_ok=True)
        # fixed options: the same rows always produce the same bytes
        self._writer = pq.ParquetWriter(self.tmp, self.schema, compression="zstd", write_statistics=True)
        return self

    def write(self, row: dict) -> None:
        self._buffer.append(row)
        self.rows += 1
        if len(self._buffer) >= self.row_group_rows:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self._writer.write_table(pa.Table.from_pylist(self._buffer, schema=self.schema))
            self._buffer = []

    def close_tmp(self) -> str:
        """Finish the temporary file and return its sha256 (the caller then commits)."""
        self._flush()
        self._writer.close()
        self._writer = None
        h = hashlib.sha256()
        with open(self.tmp, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        return h.hexdigest()

    def commit(self) -> None:
        os.replace(self.tmp, self.target)

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._writer is not None:
            self._writer.close()
        if self.tmp.exists():  # still here: the run failed or was interrupted before commit
            self.tmp.unlink()


def write_text_atomic(target: Path, text: str) -> None:
    tmp = _tmp_path(target)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json_atomic(target: Path, obj) -> None:
    write_text_atomic(target, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")
