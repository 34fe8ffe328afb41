"""Arrow schemas of the files data_prep writes (RL and SFT; docs/data-and-eval.md, "Schemas").

The schema is fixed before the first row is written: extra_info holds split, index, source_id and
source for every row, plus the union of the per-source fields of the input shapes present (null in
rows of other sources), so every row of a file has the same struct fields.
"""

from __future__ import annotations

import pyarrow as pa

from data_prep.errors import DataPrepError
from data_prep.sources.base import SourceShape

CHAT = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
BASE_EXTRA_INFO = (
    ("split", pa.string()),
    ("index", pa.int64()),
    ("source_id", pa.string()),
    ("source", pa.string()),
)


def rl_schema(
    shapes: list[SourceShape], extra: tuple[tuple[str, pa.DataType], ...] = (), gold_lists: bool = False
) -> pa.Schema:
    """`gold_lists`: ground_truth is list<string> (several accepted answers) instead of string."""
    fields: dict[str, pa.DataType] = dict(BASE_EXTRA_INFO)
    for name, dtype in [f for s in shapes for f in s.extra_fields] + list(extra):
        if fields.setdefault(name, dtype) != dtype:
            raise DataPrepError(f"extra_info field '{name}' has conflicting types across sources")
    return pa.schema(
        [
            ("data_source", pa.string()),
            ("prompt", CHAT),
            ("ability", pa.string()),
            (
                "reward_model",
                pa.struct(
                    [
                        ("style", pa.string()),
                        ("ground_truth", pa.list_(pa.string()) if gold_lists else pa.string()),
                    ]
                ),
            ),
            ("extra_info", pa.struct(list(fields.items()))),
        ]
    )


SFT_SCHEMA = pa.schema([("messages", CHAT), ("source", pa.string()), ("id", pa.string())])
