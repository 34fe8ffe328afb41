"""Decontamination throughput: training rows/s of the word n-gram index against every evaluation file
of the shared data folder, on the real MATH train prompts (7,500, repeated to the requested size) and
on synthetic MATH-like rows with LaTeX and Asymptote markup.

Per size it prints the median over repeats of rows/s for both passes together (boilerplate counting +
matching: what a build pays per training row), wall clock and CPU time of this process (steadier on a
shared machine), and a naive baseline in the same run (per row: the full n-gram set intersected with
every indexed n-gram, then per-item counting), with the speed-up and a check that both remove the same
rows. Target: >= 20k rows/s.

    python benchmarks/bench_decontam.py [--data ../shared/data] [--repeats 3] [--sizes 10000 100000]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from pathlib import Path

import pyarrow.parquet as pq

from data_prep.decontam import DecontaminationIndex
from data_prep.text import ngrams, normalize, text_key, words

EVAL_FILES = [
    "aime24.jsonl",
    "aime25.jsonl",
    "hmmt_feb2025.jsonl",
    "amc23.jsonl",
    "math500.json",
    "HumanEval.jsonl.gz",
]
_WORDS = [
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
    "express",
    "your",
    "answer",
    "as",
    "common",
    "fraction",
]


def math_train_prompts(data: Path) -> list[str]:
    table = pq.read_table(data / "math_train.parquet", columns=["prompt"])
    return [turns[-1]["content"] for turns in table.column("prompt").to_pylist()]


def synthetic_prompts(n: int, seed: int, donors: list[str]) -> list[str]:
    """MATH-like prompts: 15-90 words, inline LaTeX, 1 in 10 with an [asy] block, 1 in 100 carrying a
    20-word span of a real problem (so the matching path is exercised, not only the fast path)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(15, 90)))
        text += f" $\\frac{{{rng.randint(1, 99)}}}{{{rng.randint(2, 9)}}}x^{rng.randint(2, 9)}$?"
        if i % 10 == 0:
            text += ' [asy] draw((0,0)--(1,0)--(1,1)--cycle); label("$A$",(0,0),SW); [/asy]'
        if i % 100 == 0:
            src = words(rng.choice(donors))
            start = rng.randint(0, max(0, len(src) - 20))
            text += " " + " ".join(src[start : start + 20])
        rows.append(text)
    return rows


def run_ours(index_files: list[Path], rows: list[str], ngram: int) -> tuple[float, float, list]:
    index = DecontaminationIndex(ngram)
    for f in index_files:
        index.add_file(f)
    t, c = time.perf_counter(), time.process_time()
    for text in rows:
        index.observe_training(text)
    matches = [index.match(text) for text in rows]
    return time.perf_counter() - t, time.process_time() - c, matches


def run_naive(index_files: list[Path], rows: list[str], ngram: int) -> tuple[float, list]:
    """Same decisions, no fast paths: every row's n-gram set is intersected with the whole index."""
    index = DecontaminationIndex(ngram)
    for f in index_files:
        index.add_file(f)
    indexed = set(index._owners)
    t = time.perf_counter()
    for text in rows:
        index.observe_training(text)
    removed = []
    for text in rows:
        shared = set(ngrams(words(text), ngram)) & indexed  # allocates the intersection for every row
        exact = text_key(normalize(text)) in index._exact
        removed.append(index.match(text) if shared or exact else None)
    return time.perf_counter() - t, removed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ngram", type=int, default=9)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = ap.parse_args()

    files = [args.data / f for f in EVAL_FILES if (args.data / f).exists()]
    t0 = time.perf_counter()
    probe = DecontaminationIndex(args.ngram)
    for f in files:
        probe.add_file(f)
    print(
        f"indexed {len(files)} eval files, {len(probe.items)} questions, {len(probe)} {args.ngram}-grams "
        f"in {time.perf_counter() - t0:.2f}s"
    )
    real = math_train_prompts(args.data)
    for kind in ("math_train", "synthetic"):
        for n in args.sizes:
            rows = (
                (real * (n // len(real) + 1))[:n] if kind == "math_train" else synthetic_prompts(n, 0, real)
            )
            gc.collect()
            gc.freeze()  # the pipeline streams rows; keep this list out of every cyclic-GC pass
            wall, cpu, naive = [], [], []
            for _ in range(args.repeats):
                w, c, ours = run_ours(files, rows, args.ngram)
                wall.append(w)
                cpu.append(c)
                nw, base = run_naive(files, rows, args.ngram)
                naive.append(nw)
            gc.unfreeze()
            removed = sum(m is not None for m in ours)
            assert [m is not None for m in ours] == [m is not None for m in base], (
                "fast path changed a decision"
            )
            print(
                f"{kind:>10} {n:>7} rows: {n / statistics.median(wall):>9,.0f} rows/s wall, "
                f"{n / statistics.median(cpu):>9,.0f} rows/s CPU (median of {args.repeats}), naive baseline "
                f"{n / statistics.median(naive):>9,.0f} rows/s, speed-up {statistics.median(naive) / statistics.median(wall):.2f}x; "
                f"removed {removed}"
            )


if __name__ == "__main__":
    main()
