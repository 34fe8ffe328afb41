"""`LAUNCHER=ray` for every RL recipe: the driver's runtime env must merge with the job's.

`ray job submit --runtime-env recipes/cluster/runtime_env.yaml` injects that runtime env into the job; the
driver (`python -m g2rl_verl.main` -> verl's `run_ppo`) then calls `ray.init(runtime_env=...)` with verl's
defaults merged with `ray_kwargs.ray_init.runtime_env`. Ray refuses the driver when both name the same
environment variable ("Failed to merge the Job's runtime env"), so a recipe that works locally can die at
once on a cluster. This test rebuilds the driver's runtime env the way verl 0.9.1 does
(`verl.trainer.main_ppo.run_ppo`, `verl.trainer.constants_ppo.get_ppo_ray_runtime_env`) from each
script's composed config and merges it with Ray's own function (`ray.runtime_env.runtime_env.
_merge_runtime_env`, what `ray.init` calls). The local launcher's command line is the negative control.
The real submission is tests/cluster/test_ray_multinode.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import g2rl_verl

REPO = Path(__file__).resolve().parents[2]
RUNTIME_ENV = REPO / "recipes" / "cluster" / "runtime_env.yaml"
SCRIPTS = {
    "klear_reasoner/math_rl.sh": {},
    "klear_reasoner/code_rl.sh": {"MATH_RL_CKPT": "/ckpt/math_rl/hf"},
    "klear_reasoner/ce_gppo.sh": {"SIZE": "1p5b"},
    "g2rl/train.sh": {},
    "cluster/smoke/train.sh": {"SMOKE_DIR": "/shared/smoke"},
}


def recorded(script: str, recording_bin: Path, **env: str) -> list[str]:
    proc = subprocess.run(
        ["bash", str(REPO / "recipes" / script)],
        env={**os.environ, "PATH": f"{recording_bin}:{os.environ['PATH']}", "HOME": "/home/test", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    [argv] = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("[")]
    return argv


def driver_command(argv: list[str]) -> list[str]:
    """The entry-point command: after `--` for `ray job submit`, else the whole argv."""
    return argv[argv.index("--") + 1 :] if argv[0] == "ray" else argv


def compose_main(command: list[str]):
    assert command[:3] == ["python", "-m", "g2rl_verl.main"], command
    config_dir = command[command.index("--config-dir") + 1]
    overrides = [a for a in command[3:] if a not in ("--config-dir", config_dir)]
    overrides = [o for o in overrides if not o.startswith("hydra.run.")]  # Hydra's own, not the job config
    with initialize_config_dir(config_dir=str(Path(g2rl_verl.__file__).parent / "config"), version_base=None):
        return compose(
            config_name="g2rl_trainer",
            overrides=[f"hydra.searchpath=[pkg://verl.trainer.config,file://{config_dir}]", *overrides],
        )


def driver_runtime_env(cfg, job_env_vars: dict[str, str], monkeypatch) -> dict:
    """What verl 0.9.1's run_ppo passes to ray.init inside a job whose runtime env set ``job_env_vars``."""
    from verl.trainer.constants_ppo import get_ppo_ray_runtime_env

    for key, value in job_env_vars.items():  # Ray exports the job's env_vars into the driver process
        monkeypatch.setenv(key, value)
    defaults = get_ppo_ray_runtime_env(cfg)
    if cfg.transfer_queue.enable:
        defaults.setdefault("env_vars", {})["TRANSFER_QUEUE_ENABLE"] = "1"
    user = OmegaConf.select(cfg, "ray_kwargs.ray_init.runtime_env", default={}) or {}
    return OmegaConf.to_container(OmegaConf.merge(defaults, user), resolve=True)


def job_runtime_env() -> dict:
    return yaml.safe_load(RUNTIME_ENV.read_text())


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_ray_launcher_driver_runtime_env_merges_with_the_jobs(script, recording_bin, monkeypatch):
    from ray.runtime_env.runtime_env import _merge_runtime_env

    argv = recorded(script, recording_bin, LAUNCHER="ray", RAY_ADDRESS="http://head:8265", **SCRIPTS[script])
    assert argv[:3] == ["ray", "job", "submit"]
    assert Path(argv[argv.index("--runtime-env") + 1]) == RUNTIME_ENV
    job = job_runtime_env()
    driver = driver_runtime_env(compose_main(driver_command(argv)), job["env_vars"], monkeypatch)
    merged = _merge_runtime_env(job, driver)
    assert merged is not None, (
        f"{script}: ray.init would refuse the driver: the job's runtime env and ray_kwargs.ray_init.runtime_env "
        f"both set {sorted(set(job['env_vars']) & set(driver.get('env_vars', {})))}"
    )
    # every process of the job imports the plugin loudly: the variable comes from the job's runtime env
    assert merged["env_vars"]["VERL_USE_EXTERNAL_MODULES"] == "g2rl_verl.plugin"


def test_local_launcher_command_would_conflict_inside_a_job(recording_bin, monkeypatch):
    """Negative control: the local launcher's override, submitted as a job, is exactly the conflict above."""
    from ray.runtime_env.runtime_env import _merge_runtime_env

    argv = recorded("g2rl/train.sh", recording_bin, LAUNCHER="local")
    job = job_runtime_env()
    driver = driver_runtime_env(compose_main(driver_command(argv)), job["env_vars"], monkeypatch)
    assert driver["env_vars"]["VERL_USE_EXTERNAL_MODULES"] == "g2rl_verl.plugin"
    assert _merge_runtime_env(job, driver) is None


def test_smoke_recipe_passes_startup_validation(recording_bin):
    from g2rl_verl.main import prepare

    argv = recorded("cluster/smoke/train.sh", recording_bin, SMOKE_DIR="/shared/smoke")
    cfg = compose_main(driver_command(argv))
    prepare(cfg)  # our validation + verl's
    assert cfg.algorithm.adv_estimator == "g2rl"
    assert cfg.actor_rollout_ref.actor.policy_loss.loss_mode == "gppo"
    assert cfg.reward.custom_reward_function.path == "pkg://g2rl_verl.rewards.router"
    assert cfg.trainer.total_training_steps == 2 and cfg.reward.num_workers == 2
    assert cfg.actor_rollout_ref.model.path == "/shared/smoke/model"


def test_runtime_env_keeps_the_node_markers_apart():
    """Ray merges log lines that differ only in numbers; the runtime env exempts our node markers."""
    import re

    from ray._private.ray_logging import _canonicalise_log_line

    from g2rl_verl.node_marker import MARKER_PREFIX

    a = f"{MARKER_PREFIX}{'1' * 56} host=h pid=1]: plugin registered (VERL_USE_EXTERNAL_MODULES=g2rl_verl.plugin)"
    b = f"{MARKER_PREFIX}{'2' * 56} host=h pid=2]: plugin registered (VERL_USE_EXTERNAL_MODULES=g2rl_verl.plugin)"
    assert _canonicalise_log_line(a) == _canonicalise_log_line(b)  # Ray would collapse them ...
    allow = job_runtime_env()["env_vars"]["RAY_DEDUP_LOGS_ALLOW_REGEX"]
    assert re.search(allow, a) and re.search(allow, b)  # ... unless the allow-regex matches them
