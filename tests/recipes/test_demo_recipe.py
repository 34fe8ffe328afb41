"""recipes/demo: the CPU mini-reproduction's configs compose (verl's + ours), pass our startup validation
and verl's, carry the papers' method knobs, and the three methods differ only in those knobs.

Expected values are written out from the papers (GPPO: arXiv 2508.07629 Sec. 4.1; G2RL: arXiv
2512.15687), not read from the YAML files. The demo and the benchmark pass only paths, seeds and step
budgets on top (g2rl_verl.demo.rl_command / sft_command), which the last tests pin down.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import g2rl_verl
from g2rl_verl.demo import RECIPE_DIR, DemoAssets, DemoSettings, rl_command, sft_command

G2RL_CONFIG_DIR = str(Path(g2rl_verl.__file__).parent / "config")
A = "actor_rollout_ref.actor"
METHOD_KEYS = {
    "algorithm.adv_estimator",
    f"{A}.policy_loss.loss_mode",
    f"{A}.policy_loss.positive_nll_coef",
    f"{A}.clip_ratio_high",
}
PATHS = ["actor_rollout_ref.model.path=/m", "data.train_files=/t.parquet", "data.val_files=/v.parquet"]


def rl_config(method: str, extra: tuple[str, ...] = ()):
    with initialize_config_dir(config_dir=G2RL_CONFIG_DIR, version_base=None):
        return compose(
            config_name="g2rl_trainer",
            overrides=[f"hydra.searchpath=[pkg://verl.trainer.config,file://{RECIPE_DIR}]", "+recipe=demo_rl",
                       f"demo_method={method}", *PATHS, *extra],
        )  # fmt: skip


def flat(cfg) -> dict:
    out = {}

    def walk(node, prefix):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        else:
            out[prefix[:-1]] = node

    walk(OmegaConf.to_container(cfg, resolve=False), "")
    return out


@pytest.mark.parametrize("method", ["grpo", "gppo", "g2rl"])
def test_demo_rl_composes_and_validates(method):
    from g2rl_verl.main import prepare

    cfg = rl_config(method)
    assert cfg.actor_rollout_ref.rollout.name == "hf" and cfg.trainer.device == "cpu"
    prepare(cfg)  # our validation + verl's, exactly what `python -m g2rl_verl.main` runs before Ray


def test_method_knobs_are_the_papers():
    grpo, gppo, g2rl = (rl_config(m) for m in ("grpo", "gppo", "g2rl"))
    # GRPO baseline and G2RL: vanilla PPO clip loss, symmetric eps 0.2, no NLL term
    for cfg, estimator in ((grpo, "grpo"), (g2rl, "g2rl")):
        assert cfg.algorithm.adv_estimator == estimator
        assert cfg.actor_rollout_ref.actor.policy_loss.loss_mode == "vanilla"
        assert (cfg.actor_rollout_ref.actor.clip_ratio_low, cfg.actor_rollout_ref.actor.clip_ratio_high) == (
            0.2,
            0.2,
        )
        assert cfg.actor_rollout_ref.actor.policy_loss.positive_nll_coef == 0.0
    # G2RL: eq. 12 shaping, reward clip c = 3 [paper]; lambda 0.5 [decision, the paper gives none]
    assert (g2rl.algorithm.g2rl.shaping_mode, g2rl.algorithm.g2rl.reward_clip, g2rl.algorithm.g2rl.shaping_lambda) == (
        "eq12", 3.0, 0.5,
    )  # fmt: skip
    # GPPO (Klear): beta1 = beta2 = 1, alpha = 0.1, eps_l 0.2 / eps_h 0.28, dual clip c = 10, GRPO advantages
    a = gppo.actor_rollout_ref.actor
    assert gppo.algorithm.adv_estimator == "grpo" and a.policy_loss.loss_mode == "gppo"
    assert (a.policy_loss.gppo_beta1, a.policy_loss.gppo_beta2, a.policy_loss.positive_nll_coef) == (
        1.0,
        1.0,
        0.1,
    )
    assert (a.clip_ratio_low, a.clip_ratio_high, a.clip_ratio_c) == (0.2, 0.28, 10.0)


def test_methods_differ_only_in_method_knobs():
    configs = {m: flat(rl_config(m)) for m in ("grpo", "gppo", "g2rl")}
    allowed = METHOD_KEYS | {
        f"{A}.policy_loss.gppo_beta1",
        f"{A}.policy_loss.gppo_beta2",
        f"{A}.clip_ratio_c",
    }
    allowed |= {k for k in configs["g2rl"] if k.startswith("algorithm.g2rl.")}
    for other in ("gppo", "g2rl"):
        differing = {
            k
            for k in configs["grpo"].keys() | configs[other].keys()
            if configs["grpo"].get(k) != configs[other].get(k)
        }
        assert differing <= allowed, sorted(differing - allowed)
    # the shared knobs the comparison holds equal, stated once
    cfg = configs["grpo"]
    assert cfg[f"{A}.optim.lr"] == 2.0e-4 and cfg["data.train_batch_size"] == 16
    assert cfg["actor_rollout_ref.rollout.n"] == 8 and cfg[f"{A}.ppo_mini_batch_size"] == 16


@pytest.mark.parametrize(
    "ablation, key, value",
    [("g2rl_skip_uniform", "algorithm.g2rl.skip_uniform_groups", True),
     ("g2rl_prose", "algorithm.g2rl.shaping_mode", "prose")],
)
def test_g2rl_ablations_change_exactly_one_key(ablation, key, value):
    """The benchmark's G2RL ablations are the G2RL run with one documented key changed, nothing else."""
    from g2rl_verl.demo import G2RL_ABLATIONS

    assert ablation in G2RL_ABLATIONS
    base, other = flat(rl_config("g2rl")), flat(rl_config(ablation))
    differing = {k for k in base.keys() | other.keys() if base.get(k) != other.get(k)}
    assert differing == {key} and other[key] == value
    DemoSettings(method=ablation)  # accepted by the benchmark's settings


def test_demo_sft_composes_with_verls_sft_trainer_config():
    import verl.trainer

    with initialize_config_dir(
        config_dir=str(Path(verl.trainer.__file__).parent / "config"), version_base=None
    ):
        cfg = compose(
            config_name="sft_trainer_engine",
            overrides=[f"hydra.searchpath=[file://{RECIPE_DIR}]", "+recipe=demo_sft", "model.path=/m"],
        )
    assert cfg.engine.strategy == "fsdp2" and cfg.model.use_remove_padding is False
    assert cfg.engine.mixed_precision.param_dtype == "fp32"
    assert "hf_model" in cfg.checkpoint.save_contents  # the RL stage starts from the HF export
    assert cfg.data.pad_mode == "no_padding" and cfg.trainer.device == "cpu"


def test_the_demo_adds_only_paths_seeds_and_budgets():
    """One home per hyperparameter: every key the demo passes is a path, a seed, a budget or a name."""
    settings = DemoSettings(method="gppo", seed=3, rl_steps=7, sft_steps=11)
    assets = DemoAssets(Path("/model"), Path("/data"))
    allowed = {"actor_rollout_ref.model.path", "data.train_files", "data.val_files", "data.seed",
               "trainer.total_training_steps", "trainer.test_freq", "trainer.save_freq",
               "trainer.default_local_dir", "trainer.experiment_name", "demo_method", "+recipe",
               "model.path", "trainer.seed"}  # fmt: skip
    for cmd in (
        rl_command(Path("/sft"), assets, settings, Path("/ckpt"), 8),
        sft_command(assets, settings, Path("/o")),
    ):
        keys = {arg.split("=", 1)[0] for arg in cmd if "=" in arg and not arg.startswith("--")}
        assert keys <= allowed, sorted(keys - allowed)
    rl = rl_command(Path("/sft"), assets, settings, Path("/ckpt"), 8)
    assert "demo_method=gppo" in rl and "trainer.total_training_steps=8" in rl and "data.seed=3" in rl
    # and the composed run equals the recipe plus those values
    cfg = rl_config(
        "gppo", tuple(a for a in rl if "=" in a and not a.startswith(("--", "+recipe", "demo_method")))
    )
    assert cfg.trainer.total_training_steps == 8 and cfg.actor_rollout_ref.actor.optim.lr == 2.0e-4
