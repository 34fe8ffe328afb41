"""Gold-as-prediction sweep over the real benchmark files, read in place from ../shared/data.

For every math gold: `\\boxed{gold}` must score correct, a perturbed gold must score wrong, and a gold that
is visibly broken (unbalanced braces, by an independent count here) must come back `kind=error` with
`valid=0`, never as a valid wrong. Golds our reward rejects for another reason (math-verify cannot parse
them in any form) are `error` too and are listed. MATH-500 also gets Minerva's answer template
("Final Answer: The final answer is $gold$. I hope it is correct.").

    python benchmarks/bench_gold_as_prediction.py [--files all|math_train|...] [--sample N]

tests/rewards/test_gold_as_prediction.py runs the same sweep on every benchmark file and a deterministic
sample of MATH train; this script runs all 7,500 MATH train rows too (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import re
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"  # shared/ sits beside the repo
FILES = (
    "aime24.jsonl",
    "aime25.jsonl",
    "amc23.jsonl",
    "hmmt_feb2025.jsonl",
    "math500.json",
    "math_train.parquet",
)
KWARGS = {"math_pool_size": 2, "max_infra_failure_rate": 1.0}


def load_golds(name: str, data: Path = DATA) -> list:
    """The gold of every row of one benchmark file, as stored (str, or float for AMC)."""
    path = data / name
    if name == "math_train.parquet":
        import pandas as pd

        return [rm["ground_truth"] for rm in pd.read_parquet(path)["reward_model"]]
    if name == "math500.json":
        return [row["answer"] for row in json.loads(path.read_text())]
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if name == "aime24.jsonl":
        return [row["meta"]["answer"] for row in rows]
    if name == "aime25.jsonl":
        return [row["meta"]["solution"] for row in rows]
    return [row["answer"] for row in rows]  # amc23, hmmt_feb2025


def braces_balanced(gold: str) -> bool:
    """Independent of the reward's own check: unescaped `{` and `}` pair up."""
    depth = 0
    for token in re.findall(r"\\.|[{}]", gold):
        depth += {"{": 1, "}": -1}.get(token, 0)
        if depth < 0:
            return False
    return depth == 0


def perturb(gold) -> str:
    """A different answer: integer + 1; else the first digit + 1 (mod 10); else the negation.

    The first digit, not the last: changing the last digit of `.0000672` stays below math-verify's
    6-decimal rounding, and of `864 \\mbox{ inches}^2` only changes a unit math-verify ignores (both listed
    in docs/rewards.md as known limits)."""
    text = str(int(gold)) if isinstance(gold, float) and gold.is_integer() else str(gold).strip()
    if re.fullmatch(r"-?\d+", text):
        return str(int(text) + 1)
    digits = [m.start() for m in re.finditer(r"\d", text)]
    if digits:
        i = digits[0]
        return text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1 :]
    return f"-({text})"


async def sweep(golds: list, minerva: bool = False, concurrency: int = 64, progress: bool = False) -> dict:
    """Score every gold as a prediction; returns counts and the failing rows."""
    from g2rl_verl.rewards import compute_score_async

    gate = asyncio.Semaphore(concurrency)
    done = [0]

    async def one(gold, response):
        async with gate:
            out = await compute_score_async("MATH-TTT", response, gold, **KWARGS)
        done[0] += 1
        if progress and done[0] % 2000 == 0:
            print(f"  ... {done[0]} of {len(jobs)} scored", flush=True)
        return out

    def gold_text(gold) -> str:
        return str(int(gold)) if isinstance(gold, float) and gold.is_integer() else str(gold)

    jobs = []
    for gold in golds:
        jobs.append(one(gold, "So the answer is \\boxed{" + gold_text(gold) + "}."))
        jobs.append(one(gold, "So the answer is \\boxed{" + perturb(gold) + "}."))
        if minerva:
            jobs.append(
                one(gold, f"Final Answer: The final answer is ${gold_text(gold)}$. I hope it is correct.")
            )
    outs = await asyncio.gather(*jobs)
    per = 3 if minerva else 2
    stats: collections.Counter = collections.Counter()
    failures: list[tuple[str, str, dict]] = []
    rejected: list[tuple[str, str]] = []
    for i, gold in enumerate(golds):
        boxed, perturbed = outs[per * i], outs[per * i + 1]
        if not braces_balanced(gold_text(gold)):
            stats["unbalanced"] += 1
            for what, out in (("boxed", boxed), ("perturbed", perturbed)):
                if (out["kind"], out["valid"]) != ("error", 0.0):
                    failures.append((what, gold_text(gold), out))
            continue
        if boxed["kind"] == "error":
            stats["rejected"] += 1
            rejected.append((gold_text(gold), boxed))
            if perturbed["kind"] != "error":
                failures.append(("perturbed_of_rejected", gold_text(gold), perturbed))
            continue
        stats["usable"] += 1
        stats["boxed_correct"] += boxed["kind"] == "correct"
        # A timeout the candidate caused is scored wrong (valid=1): it counts as wrong here.
        perturbed_wrong = perturbed["kind"] == "wrong" or (perturbed["kind"], perturbed["valid"]) == (
            "timeout",
            1.0,
        )
        stats["perturbed_wrong"] += perturbed_wrong
        if boxed["kind"] != "correct":
            failures.append(("boxed", gold_text(gold), boxed))
        if not perturbed_wrong:
            failures.append(("perturbed " + perturb(gold), gold_text(gold), perturbed))
        if minerva:
            stats["minerva_correct"] += outs[per * i + 2]["kind"] == "correct"
            if outs[per * i + 2]["kind"] != "correct":
                failures.append(("minerva", gold_text(gold), outs[per * i + 2]))
    return {"stats": stats, "failures": failures, "rejected": rejected}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", nargs="*", default=list(FILES))
    args = parser.parse_args()
    for name in args.files:
        golds = load_golds(name)
        start = time.perf_counter()
        result = asyncio.run(sweep(golds, minerva=name == "math500.json", progress=True))
        s = result["stats"]
        print(
            f"{name}: {len(golds)} golds in {time.perf_counter() - start:.1f} s | usable {s['usable']}: "
            f"boxed correct {s['boxed_correct']}, perturbed wrong {s['perturbed_wrong']}"
            + (f", Minerva template correct {s['minerva_correct']}" if name == "math500.json" else "")
            + f" | unbalanced (error) {s['unbalanced']} | rejected by math-verify (error) {s['rejected']}"
        )
        for gold, out in result["rejected"]:
            print(f"    rejected gold {gold!r}: {out['kind']}")
        for what, gold, out in result["failures"]:
            print(
                f"    FAIL {what}: gold {gold!r} -> {out['kind']} valid={out['valid']} pred={out['pred'][:60]!r}"
            )


if __name__ == "__main__":
    main()
