"""Tests of g2rl_verl.cpu.platform: verl's device helpers resolve to a usable CPU setup."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch
from verl.plugin.platform import PlatformBase, PlatformRegistry

from g2rl_verl.cpu import platform as cpu_platform


def test_register_is_idempotent_and_refuses_a_foreign_cpu_platform(monkeypatch):
    monkeypatch.setattr(PlatformRegistry, "_platforms", dict(PlatformRegistry._platforms))
    cpu_platform.register()
    cpu_platform.register()
    assert PlatformRegistry.get("cpu") is cpu_platform.PlatformCPU

    class OtherCPU(cpu_platform.PlatformCPU):
        pass

    PlatformRegistry._platforms["cpu"] = OtherCPU
    with pytest.raises(RuntimeError, match="refuses to replace"):
        cpu_platform.register()


def test_platform_is_opt_in_and_not_auto_detected():
    # Auto-detection must never pick the CPU platform over a real accelerator.
    assert cpu_platform.PlatformCPU().is_platform_available(use_smi_check=True) is False
    assert issubclass(cpu_platform.PlatformCPU, PlatformBase)


def test_device_module_zeroes_cuda_memory_stats_and_keeps_cpu_rng():
    device = cpu_platform.PlatformCPU().device_module
    assert device.memory_reserved() == 0
    assert device.max_memory_allocated() == 0
    assert device.mem_get_info() == (0, 0)
    assert device.get_device_name() == "CPU"
    assert device.current_device() == "cpu"
    assert device.empty_cache() is None
    # forwarded to torch.cpu
    assert device.Stream is torch.cpu.Stream
    # rng state round trip goes through torch's CPU generator (checkpoint save/resume)
    state = device.get_rng_state()
    first = torch.rand(3)
    device.set_rng_state(state)
    assert torch.equal(torch.rand(3), first)


def test_single_process_gloo_world_runs_collectives_and_cleans_up():
    before = os.environ.get("MASTER_PORT")
    with cpu_platform.single_process_gloo_world():
        assert torch.distributed.get_world_size() == 1
        t = torch.tensor([2.0, 3.0])
        torch.distributed.all_reduce(t)
        assert t.tolist() == [2.0, 3.0]  # world size 1: the sum is the tensor itself
    assert not torch.distributed.is_initialized()
    assert os.environ.get("MASTER_PORT") == before


def test_verl_device_helpers_resolve_to_cpu_in_a_fresh_process():
    # The platform is a process-wide singleton, so check verl's own helpers in a clean interpreter.
    script = textwrap.dedent(
        """
        import os, torch
        import verl  # first: verl's plugins may import g2rl_verl.cpu.platform (see its docstring)
        from g2rl_verl.cpu import platform as p
        p.register()
        from verl.utils import device as d
        from verl.utils.distributed import initialize_global_process_group_ray
        from omegaconf import OmegaConf
        assert d.get_device_name() == "cpu", d.get_device_name()
        assert d.get_device_id() == "cpu"
        assert d.get_nccl_backend() == "gloo"
        assert d.get_resource_name() == "GPU"
        assert torch.zeros(2).to(d.get_device_id()).device.type == "cpu"
        cfg = OmegaConf.create({"trainer": {"device": "cpu"}})
        d.auto_set_device(cfg)
        assert cfg.trainer.device == "cpu", cfg.trainer.device
        os.environ.update(RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT="0")
        # verl's own default backend string would be "cpu:gloo,cpu:gloo" (rejected by torch)
        initialize_global_process_group_ray(timeout_second=60)
        assert torch.distributed.get_backend() == "gloo"
        torch.distributed.destroy_process_group()
        import verl.workers.engine_workers as ew
        assert ew.initialize_global_process_group_ray._g2rl_cpu_wrapper
        print("OK")
        """
    )
    env = dict(os.environ, VERL_PLATFORM="cpu")
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")
