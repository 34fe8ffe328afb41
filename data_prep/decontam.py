"""Decontamination index: word n-grams of evaluation questions, with boilerplate learnt from the
training corpus (design and defaults in docs/data-and-eval.md, "Decontamination").

A training prompt is removed when it matches one evaluation item by one of three rules:

- ``exact``: the same normalised text (NFKC, lowercase, collapsed whitespace; markup kept, because
  ``\\sqrt{2}`` and ``\\frac{1}{2}`` leave the same words), which catches questions shorter than n
  words;
- ``ngram``: at least ``min_shared`` distinct *non-boilerplate* word n-grams shared with the item.
  An n-gram is boilerplate when it occurs in at least ``boilerplate_rows`` distinct training
  problems: phrases such as "where m and n are relatively prime positive integers find m n" are
  common to many unrelated problems, so sharing them says nothing about contamination;
- ``coverage``: the shared n-grams (boilerplate included) cover at least ``min_coverage`` of both the
  item's and the row's n-grams. This is the same problem text; it catches an evaluation problem that
  the corpus repeats so often that its own n-grams count as boilerplate.

Boilerplate needs the whole training corpus, so building is two passes: `observe_training` on every
training prompt, then `match`. Only n-grams that occur in the evaluation index are counted, and only
rows that hit the index are hashed, so the first pass costs about as much as the second.

Evaluation files are read with the eval-sets source shapes (AIME, HMMT, AMC, MATH-500, GPQA,
MMLU-Pro, LiveCodeBench with no date window), HumanEval, or any verl RL parquet/JSONL (its user turn).
"""

from __future__ import annotations

from collections import Counter
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
from data_prep.text import ngrams, normalize, text_key, words

_ALL_DATES = ("all", "0001-01-01", "9999-12-31")
_LISTED_NGRAMS = 5  # matched n-grams quoted per removed row


def _humaneval(row: dict, opts: ConvertOptions):
    yield Example(source_id=str(field_of(row, "task_id")), problem=field_of(row, "prompt"), row={})


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
    too_short: int = 0  # questions with fewer than n words: only the exact rule can match them
    unreadable_rows: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EvalItem:
    eval_set: str
    item_id: str
    num_ngrams: int


@dataclass(frozen=True)
class Match:
    """Why a training prompt counts as contaminated by one evaluation item."""

    rule: str  # exact | ngram | coverage
    eval_set: str
    eval_id: str
    shared_ngrams: int  # distinct n-grams shared with the item, boilerplate included
    informative_ngrams: int  # of those, the non-boilerplate ones
    coverage: float  # min(shared / item n-grams, shared / row n-grams)
    matched_ngrams: tuple[str, ...]  # up to five shared n-grams, non-boilerplate first

    def as_dict(self) -> dict:
        return {
            "rule": self.rule,
            "eval_set": self.eval_set,
            "eval_id": self.eval_id,
            "shared_ngrams": self.shared_ngrams,
            "informative_ngrams": self.informative_ngrams,
            "coverage": round(self.coverage, 3),
            "matched_ngrams": list(self.matched_ngrams),
        }


class DecontaminationIndex:
    def __init__(self, n: int = 9, boilerplate_rows: int = 3, min_shared: int = 3, min_coverage: float = 0.9):
        if n < 1:
            raise DataPrepError(f"--ngram must be >= 1, got {n}")
        if boilerplate_rows < 1:
            raise DataPrepError(f"--boilerplate-rows must be >= 1, got {boilerplate_rows}")
        if min_shared < 1:
            raise DataPrepError(f"--min-shared-ngrams must be >= 1, got {min_shared}")
        if not 0.0 < min_coverage <= 1.0:
            raise DataPrepError(f"--min-coverage must be in (0, 1], got {min_coverage}")
        self.n = n
        self.boilerplate_rows = boilerplate_rows
        self.min_shared = min_shared
        self.min_coverage = min_coverage
        self.items: list[EvalItem] = []
        self.files: list[EvalFileInfo] = []
        self._owners: dict[tuple[str, ...], tuple[int, ...]] = {}  # n-gram -> indices into items
        self._exact: dict[bytes, int] = {}  # normalised-text digest -> item index
        self._df: Counter[tuple[str, ...]] = Counter()  # indexed n-gram -> distinct training problems
        self._training_seen: set[bytes] = set()
        self.training_rows_observed = 0

    # --- evaluation side --------------------------------------------------------------------------

    def add_text(self, eval_set: str, item_id: str, text: str) -> bool:
        """Index one evaluation question; False when it is too short to yield an n-gram."""
        toks = words(text)
        grams = set(ngrams(toks, self.n))
        item = len(self.items)
        self.items.append(EvalItem(eval_set, item_id, len(grams)))
        self._exact.setdefault(text_key(normalize(text)), item)
        owners = self._owners
        for gram in grams:
            owners[gram] = owners.get(gram, ()) + (item,)
        return bool(grams)

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
                examples = [ex for ex in shape.convert(row, opts) if isinstance(ex, Example)]
            except RowError as e:
                info.unreadable_rows.append(f"{path}:{row_no}: {e}")
                continue
            for ex in examples:
                info.questions += 1
                if not self.add_text(name, ex.source_id, ex.problem):
                    info.too_short += 1
        self.files.append(info)
        return info

    # --- training side ----------------------------------------------------------------------------

    def observe_training(self, text: str) -> None:
        """First pass: count, per indexed n-gram, the distinct training problems containing it."""
        self.training_rows_observed += 1
        toks = words(text)
        owners = self._owners
        # fast path (most rows): a C-level scan that stops at the first indexed n-gram, no set built
        if owners.keys().isdisjoint(ngrams(toks, self.n)):
            return
        key = text_key(" ".join(toks))
        if key in self._training_seen:  # a repeat of a problem already counted
            return
        self._training_seen.add(key)
        self._df.update(g for g in set(ngrams(toks, self.n)) if g in owners)

    def is_boilerplate(self, gram: tuple[str, ...]) -> bool:
        return self._df[gram] >= self.boilerplate_rows

    @property
    def boilerplate_ngrams(self) -> int:
        return sum(1 for c in self._df.values() if c >= self.boilerplate_rows)

    def match(self, text: str) -> Match | None:
        """The strongest match of a training prompt against the index, or None when it is clean."""
        toks = words(text)
        owners = self._owners
        hit = not owners.keys().isdisjoint(ngrams(toks, self.n))
        # an exact copy of an item with >= n words shares its n-grams, so only short rows and rows
        # with a hit need the exact-text lookup
        exact_item = self._exact.get(text_key(normalize(text))) if hit or len(toks) < self.n else None
        if exact_item is None and not hit:
            return None
        grams = set(ngrams(toks, self.n))
        shared: dict[int, list[tuple[str, ...]]] = {}
        for gram in grams:
            for item in owners.get(gram, ()):
                shared.setdefault(item, []).append(gram)
        if exact_item is not None:
            return self._describe("exact", exact_item, shared.get(exact_item, []), len(grams))
        best: tuple | None = None
        for item, item_grams in shared.items():
            informative = sum(1 for g in item_grams if not self.is_boilerplate(g))
            coverage = min(
                len(item_grams) / max(1, self.items[item].num_ngrams), len(item_grams) / len(grams)
            )
            if informative >= self.min_shared:
                rule = "ngram"
            elif coverage >= self.min_coverage:
                rule = "coverage"
            else:
                continue
            rank = (informative, coverage, -item)
            if best is None or rank > best[0]:
                best = (rank, rule, item)
        if best is None:
            return None
        return self._describe(best[1], best[2], shared[best[2]], len(grams))

    def _describe(self, rule: str, item: int, item_grams: list, row_ngrams: int) -> Match:
        ev = self.items[item]
        informative = sorted(" ".join(g) for g in item_grams if not self.is_boilerplate(g))
        common = sorted(" ".join(g) for g in item_grams if self.is_boilerplate(g))
        shared = len(item_grams)
        coverage = min(shared / max(1, ev.num_ngrams), shared / max(1, row_ngrams)) if shared else 1.0
        return Match(
            rule,
            ev.eval_set,
            ev.item_id,
            shared,
            len(informative),
            coverage,
            tuple((informative + common)[:_LISTED_NGRAMS]),
        )

    def summary(self) -> dict:
        return {
            "ngram": self.n,
            "boilerplate_rows": self.boilerplate_rows,
            "min_shared_ngrams": self.min_shared,
            "min_coverage": self.min_coverage,
            "indexed_items": len(self.items),
            "indexed_ngrams": len(self._owners),
            "training_rows_observed": self.training_rows_observed,
            "boilerplate_ngrams": self.boilerplate_ngrams,
            "eval_files": [vars(f) for f in self.files],
        }

    def __len__(self) -> int:
        return len(self._owners)
