"""Math reward throughput and latency: ours (g2rl_verl.rewards) vs verl's own math_verify scorer.

Both run on the same deterministic cases in the same process and run: `--n` golds, each with
`--samples-per-gold` responses (training scores several rollouts per prompt), shuffled:
- ours: `compute_score_async` (what verl's reward loop awaits), default settings (pool of 4 worker
  subprocesses, 30 s hard deadline), `--concurrency` calls in flight;
- verl: `verl.utils.reward_score.math_verify.compute_score` (spawn pool of 4, 30 s timeout), called from
  a thread pool of the same width, as verl's reward loop runs sync scorers.

Cases: golds from ../shared/data/math500.json and math_train.parquet (read in place), each with a synthetic response
built from its problem text plus one perturbation (exact, reformatted, decimal, off-by-one, another
gold, unanchored, box inside <think>, truncated). Prints throughput, p50/p99 latency, the ratio, hangs and
every case whose verdict differs (ours: acc, i.e. kind == correct; verl: score == 1.0), with a reason.

Every round of ours starts cold: fresh workers and an empty gold cache (our only cache: a gold is parsed
once per worker and reused for the other responses to it), so rounds are comparable with verl's.

    python benchmarks/bench_math_reward.py [--n 500] [--samples-per-gold 4] [--concurrency 16] [--seed 0] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

DATA = str(Path(__file__).resolve().parents[1].parent / "shared" / "data")  # shared/ sits beside the repo
HANG_S = 29.0  # both sides use a 30 s deadline; anything this slow counts as a hang


@dataclass
class Case:
    gold: str
    response: str
    kind: str  # perturbation


def load_golds() -> list[tuple[str, str]]:
    with open(f"{DATA}/math500.json") as f:
        rows = [(r["problem"], r["answer"]) for r in json.load(f)]
    train = pd.read_parquet(f"{DATA}/math_train.parquet")
    for prompt, rm in zip(train["prompt"], train["reward_model"]):
        rows.append((prompt[-1]["content"], rm["ground_truth"]))
    return rows


def perturb(gold: str, other: str, problem: str, rng: random.Random) -> tuple[str, str]:
    """(kind, final-answer text)."""
    is_int = re.fullmatch(r"-?\d+", gold) is not None
    choice = rng.choice(
        [
            "exact",
            "exact",
            "reformat",
            "decimal",
            "off_by_one",
            "other_gold",
            "unanchored",
            "think_box",
            "truncated",
        ]
    )
    if choice == "reformat":
        g = gold.replace("\\frac", "\\dfrac").replace(",", ", ").replace("\\left", "").replace("\\right", "")
        return choice, f"Therefore the answer is $\\boxed{{ {g} }}$."
    if choice == "decimal":
        m = re.fullmatch(r"(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}", gold)
        if m and int(m.group(3)) in (2, 4, 5, 8, 10, 20, 25):
            value = int(m.group(2)) / int(m.group(3)) * (-1 if m.group(1) else 1)
            return choice, f"Numerically this is \\boxed{{{value:g}}}."
        choice = "exact"
    if choice == "off_by_one" and is_int:
        return choice, f"The result is \\boxed{{{int(gold) + 1}}}."
    if choice in ("off_by_one", "other_gold"):
        return "other_gold", f"The result is \\boxed{{{other}}}."
    if choice == "unanchored":
        return choice, f"so we end with {gold}"
    if choice == "think_box":
        return (
            choice,
            f"Perhaps \\boxed{{{other}}}? Let me re-check.\n</think>\nThe final value is \\boxed{{{gold}}}.",
        )
    if choice == "truncated":
        return choice, f"Putting it together, \\boxed{{{gold[: max(1, len(gold) // 2)]}"
    return "exact", f"So the final answer is \\boxed{{{gold}}}."


def build_cases(n: int, seed: int, samples_per_gold: int) -> list[Case]:
    rows = load_golds()
    rng = random.Random(seed)
    picked = rows[:500] + rng.sample(rows[500:], n - 500) if n > 500 else rng.sample(rows, n)
    cases = []
    for problem, gold in picked:
        for _ in range(samples_per_gold):
            other = rng.choice(rows)[1]
            kind, final = perturb(gold, other, problem, rng)
            reasoning = (
                f"Let's think step by step. The problem: {problem}\nWe work through the algebra carefully. "
            )
            prefix = "<think>\n" + reasoning if kind == "think_box" else reasoning
            cases.append(Case(gold, prefix + "\n" + final, kind))
    rng.shuffle(cases)
    return cases


async def run_ours(cases: list[Case], concurrency: int) -> tuple[list[dict], float]:
    from g2rl_verl.rewards import compute_score_async

    gate = asyncio.Semaphore(concurrency)
    bar = tqdm(total=len(cases), desc="ours", leave=False)

    async def one(case: Case) -> dict:
        async with gate:
            t0 = time.perf_counter()
            out = await compute_score_async("MATH-TTT", case.response, case.gold)
            out["wall_s"] = time.perf_counter() - t0
            bar.update()
            return out

    from g2rl_verl.rewards import RewardConfig
    from g2rl_verl.rewards.math_pool import get_math_pool

    get_math_pool(RewardConfig().math_pool_size).wait_ready()  # worker start-up excluded, as for verl
    await asyncio.gather(*(one(c) for c in cases[:8]))
    bar.reset()
    start = time.perf_counter()
    results = await asyncio.gather(*(one(c) for c in cases))
    wall = time.perf_counter() - start
    bar.close()
    return results, wall


def run_verl(cases: list[Case], concurrency: int) -> tuple[list[dict], float]:
    from verl.utils.reward_score.math_verify import compute_score

    def one(case: Case) -> dict:
        t0 = time.perf_counter()
        score = compute_score(case.response, case.gold)
        return {"score": score, "wall_s": time.perf_counter() - t0}

    # Warm verl's spawn pool without its 30 s cap: under load, starting 4 spawn workers (each importing
    # sympy) can itself exceed 30 s, which would score the first timed calls 0 (start-up excluded).
    from verl.utils.reward_score.math_verify import _get_pool, _verify_in_subprocess

    warm = [_get_pool().submit(_verify_in_subprocess, "\\boxed{1}", "\\boxed{1}") for _ in range(8)]
    for future in warm:
        future.result()
    with ThreadPoolExecutor(concurrency) as pool:
        start = time.perf_counter()
        results = list(tqdm(pool.map(one, cases), total=len(cases), desc="verl", leave=False))
        wall = time.perf_counter() - start
    return results, wall


REASONS = {
    "unanchored": "no \\boxed/anchor: strict mode has no unanchored fallback; verl parses any number",
    "think_box": "verl scores the whole response incl. <think> (its parse may pick the box inside the reasoning)",
    "truncated": "unclosed \\boxed: strict calls it truncated; math-verify still parses the partial box",
    "reformat": "reformatted gold (\\dfrac, spaces, no \\left/\\right)",
    "decimal": "decimal rewrite of a fraction",
    "other_gold": "another problem's gold (equal values across problems are correct for both)",
    "exact": "the gold itself",
}


def reason(case: Case, ours: dict, verl: dict) -> str:
    if verl["wall_s"] >= HANG_S:
        return f"verl hit its 30 s timeout after {verl['wall_s']:.0f} s (queueing counts) and scored 0"
    if ours["kind"] == "timeout":
        return f"ours hit a timeout (valid={ours['valid']:.0f})"
    if ours["kind"] == "error":
        return "ours: bad gold (truncated / unparsable), kind=error, valid=0; verl scores it"
    return REASONS.get(case.kind, "")


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=500, help="distinct golds")
    parser.add_argument("--samples-per-gold", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3, help="alternating ours/verl rounds (shared machine)")
    args = parser.parse_args()

    cases = build_cases(args.n, args.seed, args.samples_per_gold)
    print(f"{len(cases)} cases, concurrency {args.concurrency}, {args.rounds} alternating rounds")
    print(
        f"{'round':<6} {'scorer':<18} {'verif/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'hangs':>6} {'wall s':>8} {'load1':>6}"
    )
    print(
        "(hangs: calls that hit the 30 s deadline; ours also counts kind=timeout; load1: 1-min load average)"
    )
    throughput: dict[str, list[float]] = {"ours": [], "verl": []}
    for rnd in range(args.rounds):
        order = ("ours", "verl") if rnd % 2 == 0 else ("verl", "ours")
        for name in order:
            if name == "ours":
                res, wall = asyncio.run(run_ours(cases, args.concurrency))
                ours = res
            else:
                res, wall = run_verl(cases, args.concurrency)
                verl = res
            lat = [r["wall_s"] for r in res]
            hangs = sum(1 for r in res if r["wall_s"] >= HANG_S or r.get("kind") == "timeout")
            throughput[name].append(len(res) / wall)
            print(
                f"{rnd:<6} {name:<18} {len(res) / wall:>9.1f} {statistics.median(lat) * 1e3:>9.1f} "
                f"{pct(lat, 99) * 1e3:>9.1f} {hangs:>6d} {wall:>8.1f} {os.getloadavg()[0]:>6.1f}"
            )
    med_ours, med_verl = statistics.median(throughput["ours"]), statistics.median(throughput["verl"])
    print(f"median throughput: ours {med_ours:.1f}/s, verl {med_verl:.1f}/s")
    print(f"throughput ratio ours / verl (medians): {med_ours / med_verl:.2f}x (target >= 2x)")
    print("verdict comparison below uses the last round of each scorer")

    kinds = {}
    for r in ours:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    print(f"our verdict kinds: {kinds}")
    diffs = [
        (i, c, o, v)
        for i, (c, o, v) in enumerate(zip(cases, ours, verl))
        if (o["acc"] == 1.0) != (v["score"] == 1.0)
    ]
    print(f"\n{len(diffs)} differing verdicts (ours acc vs verl score):")
    by_kind: dict[str, int] = {}
    for i, case, o, v in diffs:
        by_kind[case.kind] = by_kind.get(case.kind, 0) + 1
        print(
            f"  #{i:<4} [{case.kind}] gold={case.gold!r:.40} ours={o['kind']}:{o['pred']!r:.40} "
            f"verl={v['score']} ({v['wall_s']:.1f} s) | {reason(case, o, v)}"
        )
    print(f"differences by perturbation: {by_kind}")


if __name__ == "__main__":
    main()
