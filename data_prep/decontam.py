"""N-gram decontamination index over evaluation files (data-eval.md §4.3).

Every token n-gram (default 9) of every evaluation question is stored as a token tuple mapped to a
bitmask of the evaluation sets that contain it; a training prompt is contaminated when any of its
n-grams is a key. Lookups are exact (no hashing shortcuts) and stop at the first shared n-gram.
Memory is about 200 bytes per distinct n-gram (~0.15 GB for all of MMLU-Pro).

Evaluation files are read with the eval-sets source shapes (AIME, HMMT, AMC, MATH-500, GPQA,
MMLU-Pro, LiveCodeBench with no date window), HumanEval, or any verl RL parquet/JSONL (its user turn).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from data_prep.errors import DataPrepError, RowError
from data_prep.readers import BadLine, file_sha256, open_input
from data_prep.sources import eval_sets
from data_prep.sources.base import (
    ConvertOptions,
    Example,
    SourceShape,
    chat_turns,
    detect_shape,
    field_of,
    user_text,
)
from data_prep.text import ngrams, tokens

_ALL_DATES = ("all", "0001-01-01", "9999-12-31")


def _humaneval(row: dict, opts: ConvertOptions):
    yield Example(source_id=str(row.get("task_id")), problem=field_of(row, "prompt"), row={})


def _verl_rl(row: dict, opts: ConvertOptions):
    text = user_text(chat_turns(field_of(row, "prompt", (list, str)), "prompt"), "prompt")
    if text.startswith("### Question:\n"):  # our LiveCodeBench prompt: keep the question only
        text = text.removeprefix("### Question:\n").split("\n\n### Format:", 1)[0]
    info = row.get("extra_info") if isinstance(row.get("extra_info"), dict) else {}
    yield Example(source_id=str(info.get("source_id", info.get("index", ""))), problem=text, row={})


DECONTAM_SHAPES: list[SourceShape] = list(eval_sets.SHAPES) + [
    SourceShape(
        "humaneval",
        "decontaminate",
        frozenset({"task_id", "prompt", "entry_point", "test"}),
        frozenset({"task_id", "prompt"}),
        "MIT (openai/human-eval)",
        _humaneval,
    ),
    SourceShape(
        "verl_rl",
        "decontaminate",
        frozenset({"data_source", "prompt", "reward_model"}),
        frozenset({"prompt"}),
        "(verl RL file)",
        _verl_rl,
    ),
]


@dataclass
class EvalFileInfo:
    path: str
    sha256: str
    name: str
    shape: str
    questions: int = 0
    too_short: int = 0  # questions with fewer than n tokens: they cannot match anything
    unreadable_rows: list[str] = field(default_factory=list)


class NgramIndex:
    def __init__(self, n: int = 9):
        if n < 1:
            raise DataPrepError(f"--ngram must be >= 1, got {n}")
        self.n = n
        self.set_names: list[str] = []
        self._owners: dict[tuple[str, ...], int] = {}  # token n-gram -> bitmask over set_names
        self.files: list[EvalFileInfo] = []

    def _bit(self, name: str) -> int:
        if name not in self.set_names:
            self.set_names.append(name)
        return 1 << self.set_names.index(name)

    def add_text(self, set_name: str, text: str) -> bool:
        """Index one evaluation question; False when it is too short to yield an n-gram."""
        bit = self._bit(set_name)
        owners = self._owners
        added = False
        for gram in ngrams(tokens(text), self.n):
            owners[gram] = owners.get(gram, 0) | bit
            added = True
        return added

    def add_file(self, path: Path) -> EvalFileInfo:
        inp = open_input(path)
        shape = detect_shape(path, inp.columns, DECONTAM_SHAPES, "evaluation (--decontaminate)")
        name = path.name.split(".")[0] if shape.name == "verl_rl" else shape.name
        info = EvalFileInfo(str(path), file_sha256(path), name, shape.name)
        opts = ConvertOptions(lcb_window=_ALL_DATES)
        for row_no, row in inp.rows():
            try:
                if isinstance(row, BadLine):
                    raise RowError(row.reason)
                problems = [ex.problem for ex in shape.convert(row, opts) if isinstance(ex, Example)]
            except RowError as e:
                info.unreadable_rows.append(f"{path}:{row_no}: {e}")
                continue
            for problem in problems:
                info.questions += 1
                if not self.add_text(name, problem):
                    info.too_short += 1
        self.files.append(info)
        return info

    def matches(self, text: str) -> list[str]:
        """Names of the evaluation sets sharing at least one n-gram with `text` (empty: clean)."""
        toks = tokens(text)
        if len(toks) < self.n:
            return []
        owners = self._owners
        # fast path: C-level membership test that stops at the first shared n-gram
        if owners.keys().isdisjoint(ngrams(toks, self.n)):
            return []
        mask = 0
        for gram in ngrams(toks, self.n):
            mask |= owners.get(gram, 0)
        return [name for i, name in enumerate(self.set_names) if mask >> i & 1]

    def __len__(self) -> int:
        return len(self._owners)
