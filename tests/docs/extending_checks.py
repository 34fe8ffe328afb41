"""Independent checks of docs/extending.md's examples, run in the example's subprocess after its own tests
(tests/docs/extending_examples.py). Each derives its expectation separately from the example's code and
goes through the path a real run takes (verl's registries and dispatch, our trainer's advantage step,
the reward router, the data_prep pipeline and CLI, the eval loader, the sandbox API)."""

from __future__ import annotations

import json
import math
import random
import statistics
from pathlib import Path

from omegaconf import OmegaConf


def _names_config(loss_mode: str = "vanilla", estimator: str = "grpo"):
    return OmegaConf.create(
        {
            "actor_rollout_ref": {"actor": {"policy_loss": {"loss_mode": loss_mode}}},
            "algorithm": {"adv_estimator": estimator},
        }
    )


def check_loss(work: Path) -> None:
    import g2rl_verl.tapered_pg as example
    import pytest
    import torch
    from verl.trainer.ppo.core_algos import POLICY_LOSS_REGISTRY, get_policy_loss_fn
    from verl.workers.config import ActorConfig

    import g2rl_verl.plugin  # noqa: F401  (the edited plugin)
    from g2rl_verl.registry_guard import RegistryCollisionError, register_once
    from g2rl_verl.validation import validate_names

    assert POLICY_LOSS_REGISTRY["tapered_pg"] is example.compute_policy_loss_tapered_pg
    assert {"gppo", "ce_gppo", "gppo_only_high", "vanilla"} <= set(POLICY_LOSS_REGISTRY)  # nothing displaced
    validate_names(_names_config(loss_mode="tapered_pg"))  # the entry point's startup check accepts it
    with pytest.raises(RegistryCollisionError):
        register_once(
            POLICY_LOSS_REGISTRY, "tapered_pg", lambda *a, **k: None, registry_name="POLICY_LOSS_REGISTRY"
        )

    rng = random.Random(7)
    B, T = 3, 5
    logp = [[math.log(rng.uniform(0.05, 0.95)) for _ in range(T)] for _ in range(B)]
    old = [[math.log(rng.uniform(0.05, 0.95)) for _ in range(T)] for _ in range(B)]
    adv = [[a] * T for a in (1.5, -0.7, -2.0)]
    lengths = [5, 3, 4]
    mask = [[1.0 if t < lengths[b] else 0.0 for t in range(T)] for b in range(B)]

    def token(b, t):  # the per-token loss, from the formula on the page
        w = 1.0 if adv[b][t] > 0 else min(math.exp(logp[b][t] - old[b][t]), 1.0)
        return -adv[b][t] * w * logp[b][t]

    token_mean = sum(token(b, t) for b in range(B) for t in range(lengths[b])) / sum(lengths)
    seq_mean = sum(sum(token(b, t) for t in range(lengths[b])) / lengths[b] for b in range(B)) / B
    fn = get_policy_loss_fn("tapered_pg")
    config = ActorConfig(strategy="fsdp", rollout_n=1, ppo_micro_batch_size_per_gpu=1)
    for agg, expected in (("token-mean", token_mean), ("seq-mean-token-mean", seq_mean)):
        loss, _ = fn(
            old_log_prob=torch.tensor(old),
            log_prob=torch.tensor(logp),
            advantages=torch.tensor(adv),
            response_mask=torch.tensor(mask),
            loss_agg_mode=agg,
            config=config,
        )
        assert loss.item() == pytest.approx(expected, rel=1e-5), agg


def check_estimator(work: Path) -> None:
    import g2rl_verl.median_baseline as example
    import numpy as np
    import pytest
    import torch
    from verl import DataProto
    from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY

    import g2rl_verl.plugin  # noqa: F401
    from g2rl_verl.advantage import AdvantageInputs, verl_advantages
    from g2rl_verl.validation import validate_names

    assert ADV_ESTIMATOR_REGISTRY["median_baseline"] is example.compute_median_baseline_advantage
    validate_names(_names_config(estimator="median_baseline"))

    # Through our trainer's advantage step, with one infrastructure failure masked out of its group.
    rng = random.Random(3)
    uids = ["p"] * 4 + ["q"] * 5 + ["r"] * 2
    scores = [float(rng.randint(0, 9)) for _ in uids]
    valid = [True] * len(uids)
    valid[2] = False  # leaves group p: its median is over the other three
    T = 4
    rewards = torch.zeros(len(uids), T)
    rewards[:, -1] = torch.tensor(scores)
    data = DataProto.from_dict(
        tensors={"token_level_rewards": rewards, "response_mask": torch.ones(len(uids), T)},
        non_tensors={"uid": np.array(uids, dtype=object)},
    )
    inputs = AdvantageInputs(
        keys=[f"{u}{i}_0_0" for i, u in enumerate(uids)],
        is_padding=torch.zeros(len(uids), dtype=torch.bool),
        valid=torch.tensor(valid),
        mask_infra_failures=True,
    )
    algo = OmegaConf.create({"adv_estimator": "median_baseline", "gamma": 1.0, "lam": 1.0})
    advantages, _ = verl_advantages(data, inputs, algo, num_repeat=1)
    expected = []
    for i, u in enumerate(uids):
        group = [scores[j] for j in range(len(uids)) if uids[j] == u and valid[j]]
        expected.append(scores[i] - statistics.median(group) if valid[i] else 0.0)
    assert advantages[:, 0].tolist() == pytest.approx(expected)


def check_reward(work: Path) -> None:
    from data_prep.router_names import is_routable
    from g2rl_verl.rewards import compute_score, known_routes, resolve

    exact, prefixes = known_routes()
    assert exact["countdown"] == "countdown" and prefixes["countdown_"] == "countdown"
    assert resolve("countdown_level3").name == "countdown"
    assert resolve("math").name == "math"  # the built-ins still route
    assert is_routable("countdown_level3")  # data_prep accepts it as --data-source
    gold = {"target": 10, "numbers": [1, 2, 3, 4]}
    right, wrong = "<answer>1 + 2 + 3 + 4</answer>", "<answer>1 * 2 * 3 * 4</answer>"  # 10 and 24
    assert compute_score("countdown", right, gold)["acc"] == 1.0
    assert compute_score("countdown", wrong, gold)["acc"] == 0.0
    assert compute_score("countdown", right, gold, profile="binary")["score"] == 1.0
    assert compute_score("countdown", wrong, gold, profile="binary")["score"] == 0.0
    think = compute_score("countdown", "<think>x</think>" + right, gold, think_mode="require_both")
    assert think["acc"] == 1.0
    assert compute_score("countdown", right, gold, think_mode="require_both")["kind"] == "format_error"


def check_dataset(work: Path) -> None:
    import pyarrow.parquet as pq

    from data_prep.cli import main
    from data_prep.pipeline import SHAPES
    from data_prep.sources.base import detect_shape

    shape = detect_shape(Path("x.jsonl"), frozenset({"question", "answer"}), SHAPES["rl-math"], "rl-math")
    assert shape.name == "gsm8k"
    rows = [
        {"question": f"What is {a} + {b}?", "answer": f"{a}+{b}={a + b}\n#### {a + b:,}"}
        for a, b in ((1, 2), (500, 700), (30, 4))
    ]
    rows.append(rows[0])  # an exact duplicate: dedup keeps one
    src = work / "gsm8k_train.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = work / "gsm8k.parquet"
    assert (
        main(["rl-math", "--input", str(src), "--output", str(out), "--no-progress", "--workers", "1"]) == 0
    )
    table = pq.read_table(out).to_pylist()
    assert [r["reward_model"]["ground_truth"] for r in table] == ["3", "1200", "34"]
    assert all(r["data_source"] == "openai/gsm8k" and r["extra_info"]["split"] == "train" for r in table)


def check_benchmark(work: Path) -> None:
    import pyarrow.parquet as pq

    from data_prep.pipeline import BuildConfig, build
    from g2rl_verl.eval.datasets import load_problems, parse_row
    from g2rl_verl.rewards import compute_score

    rows = [
        {"problem_idx": i, "problem": f"Problem {i}: compute {i} * 7.", "answer": str(i * 7)}
        for i in (3, 1, 2)
    ]
    src = work / "aime26.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    problems = load_problems("aime26", src)
    assert [p.problem_id for p in problems] == ["aime26-3", "aime26-1", "aime26-2"]
    assert parse_row("aime26", rows[0]).gold == "21"
    # data_prep's eval-sets builder reads the same file with the same parser: same ids and golds
    out = work / "aime26.parquet"
    build(BuildConfig(builder="eval-sets", inputs=[str(src)], output=out, progress=False, workers=1))
    built = {r["extra_info"]["source_id"]: r for r in pq.read_table(out).to_pylist()}
    assert {p.problem_id: p.ground_truth for p in problems} == {
        k: r["reward_model"]["ground_truth"] for k, r in built.items()
    }
    assert {r["data_source"] for r in built.values()} == {"aime26"}
    # the benchmark key scores through the math verifier
    assert compute_score("aime26", "so it is \\boxed{21}", "21")["acc"] == 1.0
    assert compute_score("aime26", "so it is \\boxed{22}", "21")["acc"] == 0.0


def check_sandbox(work: Path) -> None:
    import os

    import pytest

    from g2rl_verl.rewards.config import RewardConfig
    from sandbox.api import BACKEND_NAMES, evaluate, get_backend

    assert {"local", "unsafe", "docker", "http", "nice"} <= set(BACKEND_NAMES)
    RewardConfig(sandbox_backend="nice")  # the reward config reads the registry
    backend = get_backend("nice", niceness=5)
    assert backend.isolation.startswith("L0") and backend.name == "nice"
    spec = {"inputs": ["3 4\n", "10 -2\n"], "outputs": ["7\n", "8\n"]}
    result = evaluate("a, b = map(int, input().split()); print(a + b)", spec, backend=backend)
    assert (result.n_passed, result.backend) == (2, "nice")
    niceness = {"inputs": [""], "outputs": [f"{min(os.nice(0) + 5, 19)}\n"]}  # the option reaches `nice -n`
    assert evaluate("import os; print(os.nice(0))", niceness, backend=backend).n_passed == 1
    with pytest.raises(ValueError, match="niceness=40"):
        get_backend("nice", niceness=40)
