import importlib.util
import pathlib
import sys

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra

# test folders are imported by path (pyproject: --import-mode=importlib), so load the helper the same way
_spec = importlib.util.spec_from_file_location("g2rl_trainer_fake_tq", pathlib.Path(__file__).with_name("fake_tq.py"))
fake_tq_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = fake_tq_module
_spec.loader.exec_module(fake_tq_module)
FakeTQ = fake_tq_module.FakeTQ
put_samples = fake_tq_module.put_samples


def compose_trainer(overrides=()):
    """g2rl_verl/config/g2rl_trainer.yaml composed offline, as the entry point does."""
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="g2rl_verl.config", version_base=None):
        return compose(config_name="g2rl_trainer", overrides=list(overrides))


@pytest.fixture
def fake_tq(monkeypatch):
    return FakeTQ().install(monkeypatch)


@pytest.fixture
def compose_config():
    return compose_trainer


@pytest.fixture
def put():
    return put_samples
