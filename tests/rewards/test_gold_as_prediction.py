"""Gold-as-prediction over the real benchmark files, read in place from ../shared/data (never copied).

Every benchmark file in full and a deterministic sample of MATH train (every 50th row, plus every row
whose gold has unbalanced braces): `\\boxed{gold}` scores correct, a perturbed gold scores wrong, and a
truncated gold comes back `kind=error`, `valid=0`. MATH-500 also gets Minerva's answer template. The sweep
itself (and the full 7,500-row run) is benchmarks/bench_gold_as_prediction.py.

On the pre-fix code 99.0 % of MATH train passed: the truncated golds scored every answer as a valid wrong.
"""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest

_BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_gold_as_prediction.py"
_spec = importlib.util.spec_from_file_location("bench_gold_as_prediction", _BENCH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

pytestmark = pytest.mark.skipif(
    not (bench.DATA / "math_train.parquet").exists(),
    reason=f"benchmark data folder {bench.DATA} (../shared/data beside the repo) is not present",
)
# Golds math-verify cannot parse in any form (kind=error, valid=0). Listed, so a new one fails the test.
KNOWN_REJECTED = {"2007 + \\frac\\pi 2", "\\sin^2 t", "\\text{(E)},", "a + b + c", "2$", "9$", "$1"}
# Perturbed golds math-verify still calls equal (docs/rewards.md, "Known limits"): an equation chain is
# compared by its last side, so `1.56 = 56\%` equals `0.56 = 56\%`.
KNOWN_FALSE_POSITIVES = {"0.56 = 56\\%"}


@pytest.mark.parametrize("name", [n for n in bench.FILES if n != "math_train.parquet"])
def test_benchmark_file(math_pool, name):
    golds = bench.load_golds(name)
    result = asyncio.run(bench.sweep(golds, minerva=name == "math500.json"))
    assert result["failures"] == []
    assert result["stats"]["usable"] == len(golds)  # no bad golds in the evaluation sets


def test_math_train_sample(math_pool):
    golds = bench.load_golds("math_train.parquet")
    unbalanced = [g for g in golds if not bench.braces_balanced(g)]
    sample = golds[::50] + unbalanced
    result = asyncio.run(bench.sweep(sample))
    stats = result["stats"]
    failures = [
        f for f in result["failures"] if not (f[0].startswith("perturbed") and f[1] in KNOWN_FALSE_POSITIVES)
    ]
    assert failures == [], failures[:10]
    assert stats["unbalanced"] >= len(unbalanced) >= 90  # the 99 truncated MATH train golds are all errors
    assert {gold for gold, _ in result["rejected"]} <= KNOWN_REJECTED
    assert stats["usable"] >= 0.97 * len(golds[::50])
