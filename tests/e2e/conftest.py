"""Shared fixtures for the end-to-end tests: a tiny random model built once per session."""

import pytest

from g2rl_verl.cpu.tiny_model import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny_model"))
