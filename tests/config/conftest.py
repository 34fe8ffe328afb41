import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra


def compose_trainer(overrides=()):
    """Compose g2rl_verl/config/g2rl_trainer.yaml (verl's ppo_trainer + ours) offline, like the entry point."""
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="g2rl_verl.config", version_base=None):
        return compose(config_name="g2rl_trainer", overrides=list(overrides))


@pytest.fixture
def compose_config():
    return compose_trainer
