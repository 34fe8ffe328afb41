"""docs/metrics.md documents every metric key g2rl-verl logs, and only keys it logs.

Logged keys come from the code: the `g2rl/*` keys from a real `shaping_metrics` call, the group filter's
from `GroupSelection.metrics`, the reward kinds from `Kind`, and every other key from the quoted
metric names in the modules that log them. Documented keys come from the first column of the tables in
docs/metrics.md, where `a/b`, `c` and `/d` in one cell stand for `a/b`, `a/c` and `a/d`.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
METRICS_DOC = REPO / "docs" / "metrics.md"
# the modules that add metrics, and the prefixes of the keys they add
LOGGING_MODULES = ("g2rl_verl/trainer.py", "g2rl_verl/gppo/policy_loss.py", "g2rl_verl/gppo/positive_nll.py")
OUR_PREFIXES = ("reward/", "gppo/", "actor/gppo_", "actor/positive_", "g2rl/", "training/group_filter/")
# verl's keys that our losses fill with our values (documented in the losses' table)
OURS_UNDER_VERL_NAMES = {"actor/pg_clipfrac", "actor/pg_clipfrac_lower", "actor/ppo_kl"}


def documented_keys() -> set[str]:
    keys = set()
    for line in METRICS_DOC.read_text(encoding="utf-8").split("\n"):
        if not line.startswith("| `"):
            continue
        names = re.findall(r"`([^`]+)`", line.split("|")[1])
        first = names[0]
        keys.add(first)
        parent = first.rsplit("/", 1)[0]
        for name in names[1:]:
            if name.startswith("/"):  # `/wrong` after `reward/kind_rate/correct`
                keys.add(parent + name)
            elif "/" not in name:  # `nu_std` after `g2rl/nu_mean`
                keys.add(f"{parent}/{name}")
            else:
                keys.add(name)
    return keys


def logged_keys() -> set[str]:
    from g2rl_verl.g2rl.shaping import compute_shaping, shaping_metrics
    from g2rl_verl.group_filter import select_mixed_groups
    from g2rl_verl.rewards.result import Kind

    keys = {f"reward/kind_rate/{kind.value}" for kind in Kind}
    quoted = re.compile(r"""["']((?:reward|gppo|actor|training/group_filter)/[\w/@.-]+)["']""")
    for module in LOGGING_MODULES:
        keys |= set(quoted.findall((REPO / module).read_text(encoding="utf-8")))
    # every branch of shaping_metrics: correct and incorrect members, an invalid one, two groups
    gen = torch.Generator().manual_seed(0)
    scores = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 1.0])
    features = torch.randn(6, 4, generator=gen)
    valid = torch.tensor([True, True, True, False, True, True])
    ids = ["a", "a", "a", "b", "b", "b"]
    keys |= set(shaping_metrics(compute_shaping(scores, features, ids, valid=valid), features, ids))
    # the estimator adds the advantage-based keys on top (what the trainer logs)
    from omegaconf import OmegaConf

    from g2rl_verl.g2rl.estimator import compute_g2rl_advantage_with_metrics

    rewards = torch.zeros(6, 3)
    rewards[:, -1] = 2 * scores - 1
    cfg = OmegaConf.create({"adv_estimator": "g2rl", "norm_adv_by_std_in_grpo": True, "g2rl": {}})
    keys |= set(compute_g2rl_advantage_with_metrics(rewards, torch.ones(6, 3), ids, cfg, g2rl_phi=features)[2])
    keys |= set(select_mixed_groups({"u": [1.0, 0.0]}, ["u"], target=1).metrics())
    return {k for k in keys if k.startswith(OUR_PREFIXES) or k in OURS_UNDER_VERL_NAMES}


def test_every_logged_metric_is_documented():
    missing = sorted(logged_keys() - documented_keys())
    assert not missing, f"logged but not in docs/metrics.md: {missing}"


def test_every_documented_metric_is_logged():
    stale = sorted(documented_keys() - logged_keys())
    assert not stale, f"docs/metrics.md documents keys nothing logs: {stale}"


def test_the_shorthand_expands():
    keys = documented_keys()
    assert {"reward/kind_rate/correct", "reward/kind_rate/wrong", "g2rl/nu_std"} <= keys
    assert len(logged_keys()) > 30
