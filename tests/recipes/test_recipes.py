"""Every recipe: the script launches what we expect, the config composes (verl's + ours), passes our
startup validation and verl's, and its key hyperparameters equal the spec tables.

Each script runs with a recording `python` on PATH (conftest.py), so the test composes exactly the command
line the script would launch, offline, with Hydra's compose API. Expected values are written out from the
spec tables (cited per block), not read from the recipe files.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import subprocess
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

import g2rl_verl

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
G2RL_CONFIG_DIR = str(Path(g2rl_verl.__file__).parent / "config")
A = "actor_rollout_ref.actor"
R = "actor_rollout_ref.rollout"
RK = "reward.custom_reward_function.reward_kwargs"


def compose_launch(argv: list[str]) -> DictConfig:
    """Compose the config of a recorded `python -m <entry> --config-dir D +recipe=... ...` command
    (cached per command line; each caller gets its own copy)."""
    return copy.deepcopy(_compose_cached(tuple(argv)))


@functools.cache
def _compose_cached(argv_key: tuple[str, ...]) -> DictConfig:
    argv = list(argv_key)
    module, config_dir, overrides, _ = split_hydra_argv(argv)
    if module == "g2rl_verl.main":
        primary_dir, name, searchpath = (
            G2RL_CONFIG_DIR,
            "g2rl_trainer",
            f"[pkg://verl.trainer.config,file://{config_dir}]",
        )
    elif module in ("verl.trainer.sft_trainer", "verl.trainer.sft_trainer_ray"):
        import verl.trainer

        primary_dir, name, searchpath = (
            str(Path(verl.trainer.__file__).parent / "config"),
            "sft_trainer_engine",
            f"[file://{config_dir}]",
        )
    else:
        raise AssertionError(f"unexpected entry module {module}")
    with initialize_config_dir(config_dir=primary_dir, version_base=None):
        return compose(config_name=name, overrides=[f"hydra.searchpath={searchpath}", *overrides])


def validate_rl(cfg: DictConfig) -> None:
    """Our startup validation plus verl's own (what `python -m g2rl_verl.main` runs before Ray)."""
    from g2rl_verl.main import prepare
    from g2rl_verl.validation import validate_config

    validate_config(cfg)
    prepare(cfg)


def launched(script: str, **env: str) -> list[str]:
    [argv] = run_script(RECIPES / script, _BIN["dir"], {"DRY_RUN": "1", **env})
    assert argv[-2:] == ["--cfg", "job"], "DRY_RUN=1 must print the composed config via --cfg job"
    return argv


_BIN: dict[str, Path] = {}


@pytest.fixture(autouse=True)
def _bin(recording_bin):
    _BIN["dir"] = recording_bin


def assert_values(cfg: DictConfig, expected: dict[str, object]) -> None:
    wrong = {
        k: (OmegaConf.select(cfg, k, default="<missing>"), v)
        for k, v in expected.items()
        if OmegaConf.select(cfg, k, default="<missing>") != v
    }
    assert not wrong, "key: (recipe value, spec value) = " + repr(wrong)


# ------------------------------------------------------------------------------------------ spec tables

# Klear-Reasoner math RL: the paper and its reference launch scripts
# (recipes/README.md, "Paper-to-config index").
KLEAR_MATH = {
    "algorithm.adv_estimator": "grpo",
    "algorithm.norm_adv_by_std_in_grpo": True,
    "algorithm.use_kl_in_reward": False,
    "algorithm.filter_groups.enable": False,  # verl's filter tops up; Klear's never does (issue 11 item 8)
    "g2rl_verl.group_filter.enable": True,
    "g2rl_verl.group_filter.metric": "acc",
    f"{A}.policy_loss.loss_mode": "gppo",
    f"{A}.policy_loss.gppo_beta1": 1.0,
    f"{A}.policy_loss.gppo_beta2": 1.0,
    f"{A}.policy_loss.positive_nll_coef": 0.1,
    f"{A}.clip_ratio_low": 0.2,
    f"{A}.clip_ratio_high": 0.28,
    f"{A}.clip_ratio_c": 10.0,
    f"{A}.loss_agg_mode": "token-mean",
    f"{A}.entropy_coeff": 0.0,
    f"{A}.use_kl_loss": False,
    f"{A}.optim.lr": 1e-6,
    f"{A}.optim.lr_warmup_steps": 10,
    f"{A}.optim.lr_scheduler_type": "constant",
    f"{A}.optim.weight_decay": 0.1,
    f"{A}.optim.betas": [0.9, 0.999],
    f"{A}.grad_clip": 1.0,
    f"{A}.ppo_epochs": 1,
    f"{A}.ppo_mini_batch_size": 16,
    f"{A}.ppo_max_token_len_per_gpu": 9216,
    f"{A}.ulysses_sequence_parallel_size": 4,
    f"{A}.use_dynamic_bsz": True,
    "data.train_batch_size": 128,
    "data.gen_batch_size": 256,
    "data.max_prompt_length": 4096,
    "data.max_response_length": 32768,
    "data.truncation": "left",
    f"{R}.n": 8,
    f"{R}.temperature": 1.0,
    f"{R}.top_p": 1.0,
    f"{R}.top_k": -1,
    f"{R}.tensor_model_parallel_size": 2,
    f"{R}.val_kwargs.temperature": 0.6,
    f"{R}.val_kwargs.top_p": 0.95,
    f"{R}.val_kwargs.n": 1,
    f"{RK}.profile": "klear",
    f"{RK}.think_mode": "require_both",
    "reward.custom_reward_function.path": "pkg://g2rl_verl.rewards.router",
    "trainer.total_epochs": 5,
    "trainer.test_freq": 5,
    "trainer.save_freq": 5,
    "trainer.val_before_train": False,
    "trainer.nnodes": 32,
    "trainer.n_gpus_per_node": 8,
    "actor_rollout_ref.model.path": "Kwai-Klear/Klear-Reasoner-8B-SFT",
}
# Klear code RL: the reference code script differs only in mini-batch 32 and LR 5e-7; soft code
# reward (Fig. 3).
KLEAR_CODE = {
    **KLEAR_MATH,
    f"{A}.ppo_mini_batch_size": 32,
    f"{A}.optim.lr": 5e-7,
    f"{RK}.code_reward": "soft",
    "actor_rollout_ref.model.path": "/ckpt/math_rl/hf",
}
# CE-GPPO launch scripts, 1.5B / 7B (recipes/README.md, "Paper-to-config index").
CE_GPPO_1P5B = {
    **KLEAR_MATH,
    f"{A}.policy_loss.loss_mode": "ce_gppo",
    f"{A}.policy_loss.gppo_beta1": 0.5,
    f"{A}.policy_loss.gppo_beta2": 1.0,
    f"{A}.clip_ratio_low": 0.2,
    f"{A}.clip_ratio_high": 0.2,
    f"{A}.ppo_max_token_len_per_gpu": 5120,
    f"{A}.fsdp_config.param_offload": True,
    f"{A}.fsdp_config.optimizer_offload": True,
    "data.max_response_length": 16384,
    f"{RK}.think_mode": "none",
    "trainer.total_epochs": 10,
    "trainer.val_before_train": True,
    "trainer.nnodes": 16,
    "actor_rollout_ref.model.path": "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
}
CE_GPPO_7B = {
    **CE_GPPO_1P5B,
    f"{A}.policy_loss.gppo_beta1": 0.75,
    "actor_rollout_ref.model.path": "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
}
# Klear SFT (paper): max LR 8e-5, cosine to a minimum of 4e-5, 4 epochs, 32K.
KLEAR_SFT = {
    "optim.lr": 8e-5,
    "optim.lr_scheduler_type": "cosine",
    "optim.min_lr_ratio": 0.5,
    "trainer.total_epochs": 4,
    "data.max_length": 32768,
    "data.messages_key": "messages",
    "model.path": "Qwen/Qwen3-8B-Base",
}
# G2RL's training configuration, shared by G2RL and both baselines
# (recipes/README.md, "Paper-to-config index").
G2RL_COMMON = {
    "data.train_batch_size": 16,
    "data.max_prompt_length": 1024,
    f"{R}.n": 16,
    f"{A}.ppo_mini_batch_size": 2,
    f"{A}.ppo_micro_batch_size_per_gpu": 2,
    f"{R}.temperature": 1.0,
    f"{R}.top_p": 1.0,
    f"{R}.val_kwargs.temperature": 0.8,
    f"{R}.val_kwargs.n": 8,
    f"{A}.optim.lr": 5e-7,
    f"{A}.optim.lr_warmup_steps_ratio": 0.03,
    f"{A}.optim.lr_scheduler_type": "cosine",
    f"{A}.optim.weight_decay": 0.01,
    f"{A}.grad_clip": 1.0,
    f"{A}.use_kl_loss": True,
    f"{A}.kl_loss_coef": 0.001,
    f"{A}.kl_loss_type": "low_var_kl",
    "algorithm.use_kl_in_reward": False,
    f"{A}.clip_ratio_low": 0.2,
    f"{A}.clip_ratio_high": 0.2,
    f"{A}.loss_agg_mode": "token-mean",
    f"{A}.ppo_epochs": 1,
    "algorithm.g2rl.shaping_lambda": 0.5,
    "algorithm.g2rl.reward_clip": 3.0,
    "algorithm.g2rl.eps": 1e-8,
    "algorithm.g2rl.shaping_mode": "eq12",
    f"{RK}.profile": "g2rl",
    "trainer.total_training_steps": 200,
    "trainer.nnodes": 1,
    "trainer.n_gpus_per_node": 8,
}
G2RL_SIZES = {"qwen3_1p7b": ("Qwen/Qwen3-1.7B-Base", 8192), "qwen3_4b": ("Qwen/Qwen3-4B-Base", 12288)}
# G2RL's baselines change only the estimator (GRPO) and the entropy coefficient (0.001).
G2RL_METHODS = {
    "g2rl": {"algorithm.adv_estimator": "g2rl", f"{A}.entropy_coeff": 0.0},
    "grpo": {"algorithm.adv_estimator": "grpo", f"{A}.entropy_coeff": 0.0},
    "entropy_bonus": {"algorithm.adv_estimator": "grpo", f"{A}.entropy_coeff": 0.001},
}


# ------------------------------------------------------------------------------------------ Klear


@pytest.mark.parametrize(
    "script,env,expected",
    [
        ("klear_reasoner/math_rl.sh", {}, KLEAR_MATH),
        (
            "klear_reasoner/math_rl.sh",
            {"VARIANT": "only_high"},
            {**KLEAR_MATH, f"{A}.policy_loss.loss_mode": "gppo_only_high"},
        ),
        ("klear_reasoner/code_rl.sh", {"MATH_RL_CKPT": "/ckpt/math_rl/hf"}, KLEAR_CODE),
        ("klear_reasoner/ce_gppo.sh", {"SIZE": "1p5b"}, CE_GPPO_1P5B),
        ("klear_reasoner/ce_gppo.sh", {"SIZE": "7b"}, CE_GPPO_7B),
    ],
    ids=["math_gppo", "math_only_high", "code_gppo", "ce_gppo_1p5b", "ce_gppo_7b"],
)
def test_klear_rl_recipes(script, env, expected):
    cfg = compose_launch(launched(script, **env))
    validate_rl(cfg)
    assert_values(cfg, expected)
    assert cfg.ray_kwargs.ray_init.runtime_env.env_vars.VERL_USE_EXTERNAL_MODULES == "g2rl_verl.plugin"


def test_klear_code_stage_differs_from_math_only_where_the_spec_says():
    math = OmegaConf.to_container(compose_launch(launched("klear_reasoner/math_rl.sh")))
    code = OmegaConf.to_container(compose_launch(launched("klear_reasoner/code_rl.sh", MATH_RL_CKPT="/c")))
    diff = sorted(_diff(_flatten(math), _flatten(code)))
    assert diff == sorted(
        [
            f"{A}.optim.lr",
            f"{A}.ppo_mini_batch_size",
            "actor_rollout_ref.model.path",
            f"{RK}.code_reward",
            f"{RK}.max_test_cases",
            f"{RK}.sandbox_backend",
            "data.train_files",
            "trainer.experiment_name",
            "trainer.default_local_dir",
        ]
    ), diff


def test_klear_sft_recipe():
    argv = launched("klear_reasoner/sft.sh")
    assert argv[:3] == ["python", "-m", "verl.trainer.sft_trainer_ray"]
    cfg = compose_launch(argv)
    assert_values(cfg, KLEAR_SFT)
    from verl.utils.config import omega_conf_to_dataclass

    omega_conf_to_dataclass(cfg.optim)  # verl's optimizer / engine dataclasses accept the values
    omega_conf_to_dataclass(cfg.engine)
    [torchrun] = run_script(
        RECIPES / "klear_reasoner/sft.sh", _BIN["dir"], {"DRY_RUN": "1", "SFT_ENTRY": "torchrun"}
    )
    assert torchrun[0] == "torchrun" and "verl.trainer.sft_trainer" in torchrun


# ------------------------------------------------------------------------------------------ G2RL


@pytest.mark.parametrize("size", sorted(G2RL_SIZES))
def test_g2rl_recipes_and_baselines_differ_only_in_the_method(size):
    flat = {}
    for method, method_values in G2RL_METHODS.items():
        cfg = compose_launch(launched("g2rl/train.sh", METHOD=method, SIZE=size))
        validate_rl(cfg)
        model, response_length = G2RL_SIZES[size]
        assert_values(
            cfg,
            {
                **G2RL_COMMON,
                **method_values,
                "actor_rollout_ref.model.path": model,
                "data.max_response_length": response_length,
            },
        )
        flat[method] = _flatten(OmegaConf.to_container(cfg))
    per_run = {"trainer.experiment_name", "trainer.default_local_dir"}
    assert _diff(flat["g2rl"], flat["grpo"]) - per_run == {"algorithm.adv_estimator"}
    assert _diff(flat["grpo"], flat["entropy_bonus"]) - per_run == {f"{A}.entropy_coeff"}


# ------------------------------------------------------------------------------------------ scripts


def test_every_script_parses():
    for script in sorted(RECIPES.rglob("*.sh")) + sorted(RECIPES.rglob("*.sbatch")):
        subprocess.run(["bash", "-n", str(script)], check=True)


def test_ray_launcher_submits_with_runtime_env():
    [argv] = run_script(
        RECIPES / "g2rl/train.sh", _BIN["dir"], {"LAUNCHER": "ray", "RAY_ADDRESS": "http://head:8265"}
    )
    assert argv[:4] == ["ray", "job", "submit", "--address"] and argv[4] == "http://head:8265"
    runtime_env = Path(argv[argv.index("--runtime-env") + 1])
    assert runtime_env == RECIPES / "cluster" / "runtime_env.yaml"
    assert OmegaConf.load(runtime_env).env_vars.VERL_USE_EXTERNAL_MODULES == "g2rl_verl.plugin"
    sep = argv.index("--")
    assert argv[sep + 1 : sep + 4] == ["python", "-m", "g2rl_verl.main"] and "--cfg" not in argv


def test_eval_scripts_use_the_spec_protocols(tmp_path):
    # Klear evaluation: avg@64, T 0.6, top_p 0.95, top_k 20, repetition penalty 1.05, 32K tokens
    klear = _dry_eval("klear_reasoner/eval.sh", MODEL_PATH="/m", OUT_DIR=str(tmp_path))
    aime = next(c for c in klear if "--benchmark aime24" in c)
    for flag in (
        "--n 64",
        "--temperature 0.6",
        "--top-p 0.95",
        "--top-k 20",
        "--repetition-penalty 1.05",
        "--max-tokens 32768",
        "--seed 0",
    ):
        assert flag in aime, flag
    assert "think_mode=require_both" in klear[-1]
    yarn = next(
        c for c in _dry_eval("klear_reasoner/eval.sh", MODEL_PATH="/m", BUDGET="64k") if "aime25" in c
    )
    assert "--max-tokens 65536" in yarn and "--max-model-len 81920" in yarn and "2.5" in yarn
    # G2RL evaluation: n 32, T 0.8, top_p 0.95, max tokens = training length, maj@16, SimpleRL prompt
    g2rl = _dry_eval("g2rl/eval.sh", MODEL_PATH="/m", SIZE="qwen3_4b")
    math500 = next(c for c in g2rl if "--benchmark math500" in c)
    for flag in ("--n 32", "--temperature 0.8", "--top-p 0.95", "--max-tokens 12288", "--simplerl-prompt"):
        assert flag in math500, flag
    assert "--maj-k 16" in g2rl[-1] and "profile=g2rl" in g2rl[-1]


# ------------------------------------------------------------------------------------------ helpers


def run_script(script: Path, recording_bin: Path, env: dict[str, str]) -> list[list[str]]:
    """Run a recipe script with the recording executables first on PATH; returns each recorded argv."""
    full_env = {**os.environ, "PATH": f"{recording_bin}:{os.environ['PATH']}", "HOME": "/home/test", **env}
    proc = subprocess.run(
        ["bash", str(script)], env=full_env, capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stderr}"
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("[")]


def split_hydra_argv(argv: list[str]) -> tuple[str, str, list[str], list[str]]:
    """(module, config_dir, overrides, flags) from a recorded `python -m <module> --config-dir D ...` argv."""
    assert argv[1] == "-m", argv
    module = argv[2]
    rest = argv[3:]
    config_dir, overrides, flags = None, [], []
    i = 0
    while i < len(rest):
        if rest[i] == "--config-dir":
            config_dir = rest[i + 1]
            i += 2
        elif rest[i] == "--cfg":
            flags += rest[i : i + 2]
            i += 2
        else:
            overrides.append(rest[i])
            i += 1
    assert config_dir is not None, argv
    return module, config_dir, overrides, flags


def _dry_eval(script: str, **env: str) -> list[str]:
    proc = subprocess.run(
        ["bash", str(RECIPES / script)],
        env={**os.environ, "DRY_RUN": "1", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return [line for line in proc.stdout.splitlines() if line.startswith("python")]


def _flatten(d, prefix=""):
    out = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}{k}."))
    else:
        out[prefix[:-1]] = d
    return out


def _diff(a: dict, b: dict) -> set[str]:
    return {k for k in set(a) | set(b) if a.get(k, "<absent>") != b.get(k, "<absent>")}
