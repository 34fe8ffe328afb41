"""Packaging facts a fresh `pip install` relies on."""

import sys
import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]


def test_no_tests_or_scripts_package_that_could_shadow_verls():
    # verl's wheel installs top-level `tests` and `scripts` packages into site-packages.
    assert not list((ROOT / "tests").rglob("__init__.py"))
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    shipped = find_packages(where=str(ROOT), include=include)
    assert shipped and not any(p.split(".")[0] in ("tests", "scripts", "benchmarks") for p in shipped)
    assert {"g2rl_verl", "sandbox", "data_prep"} <= {p.split(".")[0] for p in shipped}


def test_entry_point_and_pins():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["verl.plugins"] == {"g2rl_verl": "g2rl_verl.plugin"}
    deps = pyproject["project"]["dependencies"]
    assert "verl==0.9.1" in deps
    # torch is never a direct requirement: on CPU machines it must come from `pip install torch==2.13.0`
    assert not any(d.split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip() == "torch" for d in deps)


def test_importing_the_package_is_light():
    import importlib
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", "import sys, g2rl_verl, sandbox; print('torch' in sys.modules, 'verl' in sys.modules)"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.stdout.strip() == "False False", out.stderr
    assert importlib.util.find_spec("g2rl_verl.plugin") is not None
