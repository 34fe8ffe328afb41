"""Shared fixtures. Recording executables: scripts run with these first on PATH, so tests see what they would launch."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def recording_bin(tmp_path_factory) -> Path:
    """A directory with `python`, `torchrun` and `ray` executables that record their argv as JSON."""
    d = tmp_path_factory.mktemp("bin")
    for name in ("python", "torchrun", "ray"):
        exe = d / name
        exe.write_text(
            f"#!/bin/sh\nexec {sys.executable} -c "
            f'\'import json, sys; print(json.dumps(["{name}"] + sys.argv[1:]))\' "$@"\n'
        )
        exe.chmod(0o755)
    return d
