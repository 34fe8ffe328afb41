"""The build report: a JSON sidecar plus a human-readable text rendering.

Counts rows per source (read, rejected, dropped per filter, written), per filter and per split;
keeps every rejected row as "file:row: reason" (up to `max_listed`, with exact counts by reason
beyond that); length histograms in characters (and tokens when a tokenizer is given).
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter, defaultdict

# power-of-two bucket edges: [0,64), [64,128), ... , [65536, inf)
_EDGES = [0] + [2**k for k in range(6, 17)]


class Histogram:
    def __init__(self):
        self.counts = [0] * len(_EDGES)
        self.total = 0
        self.max = 0

    def add(self, value: int) -> None:
        self.counts[bisect.bisect_right(_EDGES, value) - 1] += 1
        self.total += 1
        self.max = max(self.max, value)

    def as_dict(self) -> dict:
        labels = [f"[{lo}, {hi})" for lo, hi in itertools.pairwise(_EDGES)] + [f"[{_EDGES[-1]}, inf)"]
        return {
            "buckets": {lb: c for lb, c in zip(labels, self.counts) if c},
            "rows": self.total,
            "max": self.max,
        }


class Report:
    def __init__(self, builder: str, max_listed: int = 100_000):
        self.builder = builder
        self.max_listed = max_listed
        self.inputs: list[dict] = []
        self.per_source: dict[str, Counter] = defaultdict(Counter)
        self.per_filter: dict[str, Counter] = defaultdict(Counter)  # filter -> source -> dropped
        self.per_split: Counter[str] = Counter()
        self.rejected_by_reason: Counter[str] = Counter()
        self.rejected_rows: list[str] = []
        self.histograms: dict[str, Histogram] = defaultdict(Histogram)
        self.sections: dict[str, object] = {}

    def read(self, source: str) -> None:
        self.per_source[source]["read"] += 1

    def reject(self, source: str, path: str, row_no: int, reason: str) -> None:
        self.per_source[source]["rejected"] += 1
        # the reason category: the text before the first ':' and any "[item]" or "(detail)" suffix
        self.rejected_by_reason[reason.split(":", 1)[0].split(" [")[0].split(" (")[0]] += 1
        if len(self.rejected_rows) < self.max_listed:
            self.rejected_rows.append(f"{path}:{row_no}: {reason}")

    def drop(self, source: str, filter_name: str) -> None:
        self.per_source[source][f"dropped_{filter_name}"] += 1
        self.per_filter[filter_name][source] += 1

    def written(self, source: str, split: str) -> None:
        self.per_source[source]["written"] += 1
        self.per_split[split] += 1

    def as_dict(self) -> dict:
        rejected_total = sum(self.rejected_by_reason.values())
        return {
            "builder": self.builder,
            **{k: v for k, v in self.sections.items() if k in ("output", "config")},
            "inputs": self.inputs,
            "totals": {
                "read": sum(c["read"] for c in self.per_source.values()),
                "rejected": rejected_total,
                "dropped": sum(sum(c.values()) for c in self.per_filter.values()),
                "written": sum(self.per_split.values()),
            },
            "per_source": {s: dict(sorted(c.items())) for s, c in sorted(self.per_source.items())},
            "per_filter": {
                f: {"dropped": sum(c.values()), "per_source": dict(sorted(c.items()))}
                for f, c in self.per_filter.items()
            },
            "per_split": dict(sorted(self.per_split.items())),
            "rejected": {
                "by_reason": dict(sorted(self.rejected_by_reason.items())),
                "rows": self.rejected_rows,
                "rows_not_listed": rejected_total - len(self.rejected_rows),
            },
            "length_histograms": {k: h.as_dict() for k, h in sorted(self.histograms.items())},
            **{k: v for k, v in self.sections.items() if k not in ("output", "config")},
        }

    def as_text(self) -> str:
        d = self.as_dict()
        t = d["totals"]
        lines = [
            (
                f"data_prep {self.builder}: read {t['read']}, rejected {t['rejected']}, "
                f"dropped {t['dropped']}, written {t['written']}"
            )
        ]
        if "output" in d:
            lines.append(
                f"output: {d['output']['path']} ({d['output']['rows']} rows, sha256 {d['output']['sha256']})"
            )
        lines.append("per source:")
        for source, counts in d["per_source"].items():
            lines.append(f"  {source}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
        if d["per_filter"]:
            lines.append("per filter:")
            for name, info in d["per_filter"].items():
                lines.append(f"  {name}: dropped {info['dropped']} " + str(info["per_source"]))
        lines.append("per split: " + ", ".join(f"{k}={v}" for k, v in d["per_split"].items()))
        if d["rejected"]["by_reason"]:
            lines.append("rejected by reason:")
            lines += [f"  {k}: {v}" for k, v in d["rejected"]["by_reason"].items()]
            lines += [f"    e.g. {r}" for r in d["rejected"]["rows"][:5]]
        for key in ("gold_validation", "code_formats"):
            if key in d:
                lines.append(f"{key}: {d[key]}")
        if "decontamination" in d:
            dc = d["decontamination"]
            lines.append(
                f"decontamination ({dc['ngram']}-word n-grams, {dc['indexed_ngrams']} indexed, "
                f"{dc['boilerplate_ngrams']} boilerplate): removed per eval set {dc['removed_per_eval_set']}, "
                f"per rule {dc['removed_per_rule']}"
            )
            for r in dc["removed"][:3]:
                lines.append(
                    f"    e.g. {r['row']} ({r['source_id']}) ~ {r['eval_set']} {r['eval_id']} [{r['rule']}]: "
                    f"{r['matched_ngrams'][:2]}"
                )
        for name, h in d["length_histograms"].items():
            lines.append(
                f"{name} histogram (max {h['max']}): "
                + ", ".join(f"{k}: {v}" for k, v in h["buckets"].items())
            )
        return "\n".join(lines) + "\n"
