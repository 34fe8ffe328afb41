"""Decontamination throughput: rows/s of the n-gram filter on 10k and 100k synthetic training rows
against every evaluation file in the shared data folder.

Prints, per size, the median over repeats of rows/s for our index (hashed n-grams, early-exit
membership; wall clock, and CPU time of this process, which is steadier on a shared machine) and
for a naive baseline (tuple n-gram set per row, set intersection) in the same run,
plus the 100k/10k time ratio (10.0 = linear scaling). Target: >= 20k rows/s and linear scaling.

    python benchmarks/bench_decontam.py [--data /work/shared/data] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import time
from pathlib import Path

from data_prep.decontam import NgramIndex
from data_prep.filters import DecontaminationFilter
from data_prep.sources.base import Example
from data_prep.text import ngrams, tokens

EVAL_FILES = [
    "aime24.jsonl",
    "aime25.jsonl",
    "hmmt_feb2025.jsonl",
    "amc23.jsonl",
    "math500.json",
    "HumanEval.jsonl.gz",
]
WORDS = [
    "find",
    "the",
    "number",
    "of",
    "real",
    "solutions",
    "integer",
    "positive",
    "sum",
    "product",
    "triangle",
    "circle",
    "area",
    "let",
    "be",
    "such",
    "that",
    "compute",
    "value",
    "of",
    "where",
    "and",
    "is",
    "in",
    "a",
    "with",
    "each",
    "if",
    "how",
    "many",
    "ways",
    "can",
    "probability",
]


def synthetic_rows(n: int, seed: int, contaminate_from: list[str]) -> list[Example]:
    """MATH-like problems of 20-120 tokens; 1% carry a 12-token span copied from an eval question."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(15, 90))]
        text = " ".join(words) + f" ${rng.randint(1, 999)}x^{rng.randint(2, 9)} + {rng.randint(1, 99)}$?"
        if i % 100 == 0:
            src = tokens(rng.choice(contaminate_from))
            start = rng.randint(0, max(0, len(src) - 12))
            text += " " + " ".join(src[start : start + 12])
        rows.append(Example(source_id=str(i), problem=text, row={}, source="synthetic"))
    return rows


def naive_matches(test_grams: set, text: str, n: int) -> bool:
    """Baseline: the straightforward tuple n-gram set of each row intersected with the test n-grams."""
    return bool(set(ngrams(tokens(text), n)) & test_grams)


def _questions(path: Path) -> list[str]:
    idx = NgramIndex(1)
    texts: list[str] = []
    idx.add_text = lambda name, text: texts.append(text) or True  # collect the question texts only
    idx.add_file(path)
    return texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ngram", type=int, default=9)
    args = ap.parse_args()

    files = [args.data / f for f in EVAL_FILES if (args.data / f).exists()]
    t0 = time.perf_counter()
    index = NgramIndex(args.ngram)
    for f in files:
        index.add_file(f)
    print(
        f"indexed {len(files)} eval files, {sum(i.questions for i in index.files)} questions, "
        f"{len(index)} {args.ngram}-grams in {time.perf_counter() - t0:.2f}s"
    )

    math500 = [r["problem"] for r in json.loads((args.data / "math500.json").read_text())]
    test_grams = set()  # the baseline's index: tuple n-grams of every eval question
    for f in files:
        for info_row in _questions(f):
            test_grams.update(ngrams(tokens(info_row), args.ngram))

    times: dict[int, float] = {}
    cpu_times: dict[int, float] = {}
    for n in (10_000, 100_000):
        rows = synthetic_rows(n, seed=0, contaminate_from=math500)
        # the pipeline streams (a few thousand rows alive at a time); holding all rows here would make
        # every cyclic-GC pass scan them, so move them out of the collector's view
        gc.collect()
        gc.freeze()
        ours, ours_cpu, naive, removed = [], [], [], 0
        for _ in range(args.repeats):
            filt = DecontaminationFilter(index)
            t, c = time.perf_counter(), time.process_time()
            removed = sum(1 for ex in rows if filt.drop_reason(ex))
            ours.append(time.perf_counter() - t)
            ours_cpu.append(time.process_time() - c)
            t = time.perf_counter()
            naive_removed = sum(1 for ex in rows if naive_matches(test_grams, ex.problem, args.ngram))
            naive.append(time.perf_counter() - t)
        del rows
        gc.unfreeze()
        times[n] = statistics.median(ours)
        cpu_times[n] = statistics.median(ours_cpu)
        print(
            f"{n:>7} rows: ours {n / times[n]:>9,.0f} rows/s wall, {n / statistics.median(ours_cpu):>9,.0f} "
            f"rows/s CPU (median {times[n]:.3f}s of {args.repeats}), "
            f"naive baseline {n / statistics.median(naive):>9,.0f} rows/s, speed-up "
            f"{statistics.median(naive) / times[n]:.2f}x; removed {removed} (baseline: "
            f"{naive_removed})"
        )
        assert removed == naive_removed, "the prefiltered index must remove exactly what the baseline removes"
    print(
        f"time ratio 100k/10k = {times[100_000] / times[10_000]:.2f} wall, "
        f"{cpu_times[100_000] / cpu_times[10_000]:.2f} CPU (10.00 = linear)"
    )


if __name__ == "__main__":
    main()
