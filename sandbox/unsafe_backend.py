"""Unsafe backend: the runner as a plain subprocess, no isolation (level L0). Trusted code only.

It exists for tests of trusted code and for hosts where the local backend cannot run; it must be named
explicitly (backend="unsafe"). It keeps the limits that need no privilege: rlimits, output caps,
CPU-time TLE for single processes, a cleared environment and a private working directory that is removed
afterwards. It does NOT protect the host: the program can read and write the user's files, use the
network and signal the user's processes; processes that leave the test's session (setsid) can survive.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

from sandbox.backend import RUNNER_PATH, SANDBOX_ENV, SubprocessRunnerBackend, real_interpreter
from sandbox.types import Limits


class UnsafeBackend(SubprocessRunnerBackend):
    name = "unsafe"

    def __init__(self, *, python: str | None = None, site_packages: list[str] | tuple[str, ...] = ()):
        self.python = python or real_interpreter()
        self.site_packages = list(site_packages)

    @property
    def isolation(self) -> str:
        return "L0:none"

    def _acquire(self, limits: Limits) -> Any:
        return tempfile.mkdtemp(prefix="g2rl-sandbox-unsafe-")

    def _release(self, lease: Any) -> None:
        shutil.rmtree(lease, ignore_errors=True)

    def _runner_command(self, limits: Limits, lease: Any) -> tuple[list[str], dict[str, Any]]:
        env = {**SANDBOX_ENV, "HOME": lease}
        return [self.python, "-I", "-S", RUNNER_PATH], {"env": env, "cwd": lease, "start_new_session": True}

    def _session_options(self, lease: Any, limits: Limits) -> dict[str, Any]:
        # No RLIMIT_NPROC: it is counted per user across the host, so it would break the caller's own uid.
        return {"workdir": lease, "sys_path": self.site_packages, "nproc": None}
