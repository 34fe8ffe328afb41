"""`python -m g2rl_verl.main`: verl's PPO entry point with our trainer, config and startup validation.

Every recipe launches through here, GRPO-only and GPPO-only runs included, so all runs share the
same trainer, validation and config. Config: `g2rl_verl/config/g2rl_trainer.yaml` (verl's
`ppo_trainer` plus our keys); `g2rl_verl.dry_run=true` validates, prints the resolved config and
exits without starting Ray.

Logs: the known-harmless third-party warnings (verl's "<backend> engine is not available", once per
process) are silenced here, for this entry point and the Ray workers it starts, not globally; the
console gets one compact line per step (g2rl_verl.step_log).
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig, OmegaConf


def prepare(config: DictConfig) -> None:
    """Everything that must hold before Ray starts: plugin loaded, our checks, verl's own checks."""
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config as verl_validate_config
    from verl.utils.device import auto_set_device

    import g2rl_verl.plugin  # noqa: F401  (loud: a broken plugin fails here, not in a worker)
    from g2rl_verl.validation import validate_config

    auto_set_device(config)
    validate_config(config)
    verl_validate_config(
        config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config)
    )


@hydra.main(config_path="config", config_name="g2rl_trainer", version_base=None)
def main(config: DictConfig) -> None:
    prepare(config)
    if OmegaConf.select(config, "g2rl_verl.dry_run", default=False):
        print(OmegaConf.to_yaml(config, resolve=True))
        print("g2rl_verl: config validated (dry run); not starting Ray.")
        return
    from verl.trainer.main_ppo import run_ppo

    from g2rl_verl.trainer import RewardAwareTaskRunner

    run_ppo(config, task_runner_class=RewardAwareTaskRunner)


if __name__ == "__main__":
    from g2rl_verl.step_log import silence_harmless_warnings

    silence_harmless_warnings()  # before Hydra composes (which imports verl); Ray workers inherit it
    main()
