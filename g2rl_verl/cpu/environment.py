"""Environment variables a CPU run of verl's trainer needs. Imports nothing from verl or torch."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_run_environment(num_fake_gpus: int = 1) -> dict[str, str]:
    """Set these before ``ray.init`` (a local Ray cluster's workers inherit them).

    - ``VERL_PLATFORM=cpu`` selects :class:`g2rl_verl.cpu.platform.PlatformCPU` (never auto-detected;
      read at ``verl/plugin/platform/platform_manager.py:89``);
    - ``VERL_ENGINE_DEVICE=cuda``: verl registers its FSDP engine for devices cuda/npu only
      (``verl/workers/engine/fsdp/transformer_impl.py:1143``); the override is read at
      ``verl/workers/engine/base.py:405``. It also selects our G2RL engine, registered under "cuda";
    - ``CUDA_VISIBLE_DEVICES=0,..``: with fake GPUs declared at ``ray.init`` (``num_gpus``), Ray refuses
      to start a raylet when the variable is empty ("Attempting to start raylet with 1 GPU, but
      CUDA_VISIBLE_DEVICES contains []"). Harmless with a CPU build of torch.
    """
    if num_fake_gpus < 1:
        raise ValueError(
            f"num_fake_gpus must be >= 1 (verl's resource pools need one per worker), got {num_fake_gpus}"
        )
    return {
        "VERL_PLATFORM": "cpu",
        "VERL_ENGINE_DEVICE": "cuda",
        "CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in range(num_fake_gpus)),
    }


def pids_with_env(name: str, value: str) -> list[int]:
    """Pids of live processes (other than this one) whose environment has ``name=value``.

    A run exports a unique marker to every process it starts (Ray workers inherit it), so this finds its
    leftovers without touching other sessions' processes.
    """
    needle = f"{name}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # exited, or not readable: not ours
            continue
    return found
