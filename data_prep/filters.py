"""Composable row filters. Each filter sees one converted `Example` and returns None (keep) or a short
drop reason; the pipeline applies them in order and the report counts drops per filter and source.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Protocol

from data_prep.decontam import DecontaminationIndex
from data_prep.errors import DataPrepError
from data_prep.sources.base import Example
from data_prep.text import normalize, text_key


class Filter(Protocol):
    name: str

    def drop_reason(self, ex: Example) -> str | None: ...

    def summary(self) -> dict: ...


class DedupFilter:
    """Keeps the first occurrence of each key: the problem text (RL) or the (problem, response) pair
    (SFT), either exactly or after normalisation (NFKC, lowercase, collapsed whitespace)."""

    def __init__(self, normalized: bool, with_response: bool):
        self.name = "dedup_normalized" if normalized else "dedup_exact"
        self._normalized = normalized
        self._with_response = with_response
        self._seen: set[bytes] = set()

    def drop_reason(self, ex: Example) -> str | None:
        parts = [ex.problem] + ([ex.response or ""] if self._with_response else [])
        if self._normalized:
            parts = [normalize(p) for p in parts]
        key = text_key("\x00".join(parts))
        if key in self._seen:
            return "duplicate"
        self._seen.add(key)
        return None

    def summary(self) -> dict:
        return {"distinct_keys": len(self._seen)}


class ResponsesPerPromptFilter:
    """SFT: at most `limit` responses per (normalised) prompt, keeping the first ones in file order."""

    name = "responses_per_prompt"

    def __init__(self, limit: int):
        self.limit = limit
        self._counts: Counter[bytes] = Counter()

    def drop_reason(self, ex: Example) -> str | None:
        key = text_key(normalize(ex.problem))
        if self._counts[key] >= self.limit:
            return f"more than {self.limit} responses for this prompt"
        self._counts[key] += 1
        return None

    def summary(self) -> dict:
        return {"limit": self.limit, "prompts": len(self._counts)}


class DecontaminationFilter:
    """Drops training prompts that match an evaluation item (rules in `data_prep.decontam`); the
    summary lists every removed row with the eval item's id and the matched n-grams."""

    name = "decontamination"

    def __init__(self, index: DecontaminationIndex):
        self.index = index
        self.removed_per_eval_set: Counter[str] = Counter()
        self.removed_per_rule: Counter[str] = Counter()
        self.removed: list[dict] = []

    def drop_reason(self, ex: Example) -> str | None:
        m = self.index.match(ex.problem)
        if m is None:
            return None
        self.removed_per_eval_set[m.eval_set] += 1
        self.removed_per_rule[m.rule] += 1
        self.removed.append(
            {"source": ex.source, "source_id": ex.source_id, "row": ex.location, **m.as_dict()}
        )
        return f"{m.rule} match with {m.eval_set} item {m.eval_id}"

    def summary(self) -> dict:
        return {
            **self.index.summary(),
            "removed_per_eval_set": dict(sorted(self.removed_per_eval_set.items())),
            "removed_per_rule": dict(sorted(self.removed_per_rule.items())),
            "removed": self.removed,
        }


class MinTestsFilter:
    """Code: drop problems with fewer than `minimum` tests (Klear: 16)."""

    name = "min_tests"

    def __init__(self, minimum: int):
        self.minimum = minimum

    def drop_reason(self, ex: Example) -> str | None:
        if ex.num_tests is not None and ex.num_tests < self.minimum:
            return f"{ex.num_tests} tests < {self.minimum}"
        return None

    def summary(self) -> dict:
        return {"minimum": self.minimum}


def load_pass_rates(path: Path) -> dict[str, tuple[int, int]]:
    """source_id -> (n_correct, n) from a rollout-results JSONL.

    Each line is either one sample ``{"source_id": str, "correct": bool}`` or an aggregate
    ``{"source_id": str, "n": int, "n_correct": int}``; lines for the same id are summed.
    """
    totals: dict[str, list[int]] = {}
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataPrepError(f"{where}: invalid JSON in rollout results ({e.msg})") from None
            sid = rec.get("source_id") if isinstance(rec, dict) else None
            if not isinstance(sid, str | int):
                raise DataPrepError(f"{where}: rollout result lacks a string 'source_id'")
            if "correct" in rec:
                if not isinstance(rec["correct"], bool | int) or rec["correct"] not in (0, 1):
                    raise DataPrepError(f"{where}: 'correct' must be true/false")
                c, n = int(rec["correct"]), 1
            elif "n" in rec and "n_correct" in rec:
                c, n = rec["n_correct"], rec["n"]
                if not (isinstance(c, int) and isinstance(n, int) and 0 <= c <= n and n > 0):
                    raise DataPrepError(f"{where}: need integers 0 <= n_correct <= n, n > 0")
            else:
                raise DataPrepError(f"{where}: rollout result needs 'correct' or both 'n' and 'n_correct'")
            acc = totals.setdefault(str(sid), [0, 0])
            acc[0] += c
            acc[1] += n
    return {sid: (c, n) for sid, (c, n) in totals.items()}


class PassRateFilter:
    """Keep prompts whose teacher pass rate c/n lies in [lo, hi] (inclusive).

    Klear code (pass@16 > 0.5, read as more than 8 of 16) and math (majority correct, >= 9 of 16)
    are both ``--pass-rate 0.5625 1``.
    """

    name = "pass_rate"

    def __init__(self, path: Path, lo: float, hi: float, missing: str):
        self.path, self.lo, self.hi, self.missing = path, lo, hi, missing
        self.rates = load_pass_rates(path)
        self.outcomes: Counter[str] = Counter()

    def drop_reason(self, ex: Example) -> str | None:
        rec = self.rates.get(ex.source_id)
        if rec is None:
            self.outcomes["missing"] += 1
            return None if self.missing == "keep" else "no rollout results for this source_id"
        c, n = rec
        if c < self.lo * n:  # integer-safe form of c/n < lo
            self.outcomes["below"] += 1
            return f"pass rate {c}/{n} < {self.lo}"
        if c > self.hi * n:
            self.outcomes["above"] += 1
            return f"pass rate {c}/{n} > {self.hi}"
        self.outcomes["kept"] += 1
        return None

    def summary(self) -> dict:
        return {
            "results_file": str(self.path),
            "range": [self.lo, self.hi],
            "ids_with_results": len(self.rates),
            "missing_policy": self.missing,
            "outcomes": dict(sorted(self.outcomes.items())),
        }


class TokenLengthFilter:
    """Drop rows whose chat-templated token length exceeds `max_tokens` (SFT: the whole conversation;
    RL/eval: the prompt plus generation prompt). Also records each kept row's token count."""

    name = "token_length"

    def __init__(self, tokenizer_path: str, max_tokens: int, messages_key: str):
        from transformers import AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_path, local_files_only=True)
        except Exception as e:  # noqa: BLE001 - report any load failure with the path at fault
            raise DataPrepError(f"--tokenizer {tokenizer_path!r} cannot be loaded locally: {e}") from None
        self.max_tokens = max_tokens
        self.messages_key = messages_key
        self.last_length = 0

    def count(self, messages: list[dict]) -> int:
        ids = self.tokenizer.apply_chat_template(
            messages, tokenize=True, add_generation_prompt=self.messages_key == "prompt", return_dict=False
        )
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        return len(ids)

    def drop_reason(self, ex: Example) -> str | None:
        self.last_length = self.count(ex.row[self.messages_key])
        if self.last_length > self.max_tokens:
            return f"{self.last_length} tokens > {self.max_tokens}"
        return None

    def summary(self) -> dict:
        return {"max_tokens": self.max_tokens, "tokenizer": self.tokenizer.name_or_path}
