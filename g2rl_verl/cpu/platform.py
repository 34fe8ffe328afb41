"""A ``cpu`` platform for verl 0.9.1, so that verl's trainer, workers and FSDP2 engine run without GPUs.

verl resolves its device through ``verl.plugin.platform.get_platform()``; it ships CUDA, NPU and ROCm
platforms and, when none is detected, falls back to ``nvidia``
(``verl/plugin/platform/platform_manager.py:113-117``). This module registers a :class:`PlatformCPU`
under the name ``cpu``; a run selects it with ``VERL_PLATFORM=cpu`` (read at
``platform_manager.py:89``). It is never auto-detected, so installing this package changes nothing on
accelerator machines.

Every piece, with the verl 0.9.1 code it works around:

- **Identity** (``device_name = vendor_name = "cpu"``). ``verl/utils/device.py:157-166``
  (``auto_set_device``) keeps ``trainer.device=cpu`` only when the platform says ``cpu``.
- **Device module proxy** (:class:`CPUDeviceModule`). verl calls CUDA-style functions on
  ``get_torch_device()`` that ``torch.cpu`` lacks:
  - memory statistics (``verl/utils/memory_utils.py:47,61,92-100``: ``memory_reserved``,
    ``memory_allocated``, ``max_memory_*``; ``mem_get_info``) return 0 / (0, 0);
  - ``empty_cache``, ``ipc_collect``, ``set_per_process_memory_fraction`` do nothing (27 call sites of
    ``get_torch_device().empty_cache()`` across the engines and workers);
  - ``get_device_name`` returns ``"CPU"`` (``verl/utils/flops_counter.py:80``, the MFU metric);
  - ``get_rng_state`` / ``set_rng_state`` use torch's CPU generator
    (``verl/utils/checkpoint/checkpoint_manager.py:208,219``: checkpoint save and resume);
  - everything else (``current_stream``, ``Stream``, ``Event``, ``synchronize``...) is ``torch.cpu``'s.
- **current_device() returns the string "cpu"**, not an int: ``verl/utils/fsdp_utils.py:507`` does
  ``model.to(device=get_device_id())`` and ``get_device_id()`` is ``current_device()``
  (``verl/utils/device.py:120``); an int there means "accelerator 0" and torch raises
  "Cannot access accelerator device when none is available".
- **device_count() = 1, is_available() = True, set_device/synchronize no-ops**:
  ``verl/utils/distributed.py:74`` calls ``set_device(local_rank)``; workers assert availability.
- **Communication backend ``gloo``**, and the **process-group fix**: ``verl/utils/distributed.py:89``
  builds ``f"cpu:gloo,{device}:{backend}"``; on this platform that is ``cpu:gloo,cpu:gloo``, which
  torch rejects ("Duplicate device type cpu"). :func:`register` wraps
  ``verl.utils.distributed.initialize_global_process_group_ray`` so that, only while the active
  platform is ours and no backend is given, it passes plain ``"gloo"``. ``verl/workers/engine_workers.py:38``
  imports that function by name, so the wrapper is installed before ``engine_workers`` is imported (the
  plugin runs inside ``import verl``) and also patched into ``engine_workers`` if it is already loaded.
- **Ray resources**: ``ray_resource_name() = "GPU"``. verl's resource pools always ask for the
  platform's resource (``verl/single_controller/ray/base.py:240``, ``_check_resource_available``), so a
  CPU run declares fake GPUs at ``ray.init`` (``+ray_kwargs.ray_init.num_gpus=N``) and Ray needs
  ``CUDA_VISIBLE_DEVICES`` set for that (see :func:`g2rl_verl.cpu.environment.cpu_run_environment`).
  ``ray_noset_envvars`` keeps Ray from rewriting ``CUDA_VISIBLE_DEVICES`` in workers.
- **Unsupported features**: IPC is reported unsupported (weights then travel by copy, not CUDA IPC),
  no collective module, NVTX ranges and the profiler are no-ops, ``cudart()`` is ``None``,
  ``get_device_capability`` is ``(None, None)``.

Not handled here (configuration, see :mod:`g2rl_verl.demo`): ``strategy=fsdp2`` (FSDP1 passes an int
``device_id``, ``verl/workers/engine/fsdp/transformer_impl.py:437-441``), eager attention
(``verl/workers/config/model.py:185`` defaults to flash-attention), ``use_torch_compile=false``, and
``VERL_ENGINE_DEVICE=cuda`` (the FSDP engine is registered for ``cuda``/``npu`` only,
``transformer_impl.py:1143``; the override is read at ``verl/workers/engine/base.py:405``).

Import cost: only ``torch`` and ``verl.plugin.platform`` / ``verl.utils.distributed``, which
``import verl`` has already loaded. Import ``verl`` before this module: imported first in a fresh
process, its own ``from verl...`` line would run the plugin, which imports this half-executed module
(``g2rl_verl.cpu.registration`` then raises a message saying so).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import os
import socket
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import torch
from verl.plugin.platform import PlatformBase, PlatformRegistry, get_platform

PLATFORM_NAME = "cpu"


class CPUDeviceModule:
    """Stands in for ``torch.cuda`` on a CPU: forwards to ``torch.cpu``, zeroes memory statistics."""

    def __getattr__(self, name: str) -> Any:
        # CUDA memory statistics (memory_allocated, max_memory_reserved, reset_peak_memory_stats, ...)
        # have no CPU meaning; verl only logs them.
        if name.startswith(("memory_", "max_memory_", "reset_")):
            return _return_zero
        return getattr(torch.cpu, name)

    @staticmethod
    def mem_get_info(device: Any = None) -> tuple[int, int]:
        return 0, 0

    @staticmethod
    def empty_cache() -> None:
        return None

    @staticmethod
    def ipc_collect() -> None:
        return None

    @staticmethod
    def set_per_process_memory_fraction(fraction: float, device: Any = None) -> None:
        return None

    @staticmethod
    def get_device_name(device: Any = None) -> str:
        return "CPU"

    @staticmethod
    def current_device() -> str:
        return "cpu"

    @staticmethod
    def device_count() -> int:
        return 1

    @staticmethod
    def is_available() -> bool:
        return True

    @staticmethod
    def set_device(device: Any) -> None:
        return None

    @staticmethod
    def manual_seed(seed: int) -> None:
        torch.manual_seed(seed)

    @staticmethod
    def manual_seed_all(seed: int) -> None:
        torch.manual_seed(seed)

    @staticmethod
    def get_rng_state(device: Any = None) -> torch.Tensor:
        return torch.get_rng_state()

    @staticmethod
    def set_rng_state(state: torch.Tensor, device: Any = None) -> None:
        torch.set_rng_state(state)


def _return_zero(*args: Any, **kwargs: Any) -> int:
    return 0


_DEVICE_MODULE = CPUDeviceModule()


class PlatformCPU(PlatformBase):
    """verl platform for CPU-only machines (select with ``VERL_PLATFORM=cpu``)."""

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> ModuleType:
        return _DEVICE_MODULE  # type: ignore[return-value]

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check: bool = False) -> bool:
        # Opt-in only (VERL_PLATFORM=cpu): auto-detection must keep choosing real accelerators.
        return False

    def current_device(self) -> str:  # type: ignore[override]
        return "cpu"  # a string on purpose: verl passes it to .to() (module docstring)

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        return None

    def synchronize(self, device_index: int | None = None) -> None:
        return None

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        return None

    def empty_cache(self) -> None:
        return None

    def get_device_capability(self, device_index: int = 0) -> tuple[int | None, int | None]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        return "CUDA_VISIBLE_DEVICES"

    @contextlib.contextmanager
    def nvtx_range(self, msg: str) -> Iterator[None]:
        yield

    def profiler_start(self) -> None:
        return None

    def profiler_stop(self) -> None:
        return None

    def ray_resource_name(self) -> str:
        return "GPU"  # fake GPUs declared at ray.init stand for CPU worker slots

    def ray_noset_envvars(self) -> list[str]:
        return ["RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES"]

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self) -> Any:
        return None


def is_active() -> bool:
    """True when verl's process-wide platform is this CPU platform."""
    return isinstance(get_platform(), PlatformCPU)


def _wrap_process_group_init(original: Any) -> Any:
    @functools.wraps(original)
    def initialize_global_process_group_ray(timeout_second: Any = None, backend: str | None = None) -> Any:
        if backend is None and is_active():
            backend = "gloo"  # not "cpu:gloo,cpu:gloo" (duplicate device type), module docstring
        return original(timeout_second=timeout_second, backend=backend)

    initialize_global_process_group_ray._g2rl_cpu_wrapper = True  # type: ignore[attr-defined]
    return initialize_global_process_group_ray


def _wrap_torchrun_process_group_init(original: Any) -> Any:
    """The same fix for ``initialize_global_process_group`` (torchrun entry points: verl's SFT trainer).

    It takes no backend argument, so on this platform the group is created here with plain gloo; the
    rest mirrors verl's function (``verl/utils/distributed.py:62-75``).
    """

    @functools.wraps(original)
    def initialize_global_process_group(timeout_second: int = 36000) -> Any:
        if not is_active():
            return original(timeout_second=timeout_second)
        torch.distributed.init_process_group(
            backend="gloo",
            timeout=datetime.timedelta(seconds=timeout_second),
            init_method=os.environ.get("DIST_INIT_METHOD", None),
        )
        return int(os.environ["LOCAL_RANK"]), int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])

    initialize_global_process_group._g2rl_cpu_wrapper = True  # type: ignore[attr-defined]
    return initialize_global_process_group


def register() -> None:
    """Register the ``cpu`` platform and the process-group fix with verl. Idempotent.

    Raises ``RuntimeError`` if verl already has a different platform named ``cpu``.
    """
    existing = PlatformRegistry.get(PLATFORM_NAME)
    if existing is None:
        PlatformRegistry.register(platform=PLATFORM_NAME)(PlatformCPU)
    elif existing is not PlatformCPU:
        raise RuntimeError(
            f"verl already has a platform named {PLATFORM_NAME!r} ({existing.__module__}.{existing.__name__}); "
            "g2rl_verl.cpu.platform refuses to replace it. Remove the other plugin or unset VERL_USE_EXTERNAL_MODULES."
        )

    import verl.utils.distributed as verl_distributed

    if not getattr(verl_distributed.initialize_global_process_group_ray, "_g2rl_cpu_wrapper", False):
        verl_distributed.initialize_global_process_group_ray = _wrap_process_group_init(
            verl_distributed.initialize_global_process_group_ray
        )
    if not getattr(verl_distributed.initialize_global_process_group, "_g2rl_cpu_wrapper", False):
        verl_distributed.initialize_global_process_group = _wrap_torchrun_process_group_init(
            verl_distributed.initialize_global_process_group
        )
    # engine_workers binds the function by name at import (engine_workers.py:38); patch a loaded copy.
    engine_workers = sys.modules.get("verl.workers.engine_workers")
    if engine_workers is not None and not getattr(
        engine_workers.initialize_global_process_group_ray, "_g2rl_cpu_wrapper", False
    ):
        engine_workers.initialize_global_process_group_ray = (
            verl_distributed.initialize_global_process_group_ray
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def single_process_gloo_world() -> Iterator[None]:
    """A world-size-1 gloo process group on localhost, for running verl workers in-process (tests).

    Sets the variables verl's workers read (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT),
    initialises the group, and on exit destroys it and restores the environment.
    """
    if torch.distributed.is_initialized():
        raise RuntimeError(
            "a torch.distributed process group already exists in this process; destroy it first"
        )
    keys = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    saved = {key: os.environ.get(key) for key in keys}
    os.environ.update(
        RANK="0",
        WORLD_SIZE="1",
        LOCAL_RANK="0",
        LOCAL_WORLD_SIZE="1",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(_free_port()),
    )
    try:
        torch.distributed.init_process_group(backend="gloo", rank=0, world_size=1)
        yield
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
