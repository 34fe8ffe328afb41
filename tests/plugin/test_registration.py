"""Registration reaches every process verl starts: entry point, loud env-var mode, Ray workers."""

import os
import subprocess
import sys
import textwrap

import pytest

from g2rl_verl.registry_guard import RegistryCollisionError, register_once

OUR_LOSSES = ["gppo", "gppo_only_high", "ce_gppo"]


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VERL_USE_EXTERNAL")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=full_env, capture_output=True, text=True, timeout=180
    )


def test_names_absent_before_and_present_after_our_registration():
    # With entry points disabled, stock verl must not know our names (verl's registry overwrites
    # silently, so a clash would go unnoticed); importing the plugin adds all three.
    out = run_python(
        f"""
        import verl
        from verl.trainer.ppo.core_algos import POLICY_LOSS_REGISTRY
        before = [n for n in {OUR_LOSSES!r} if n in POLICY_LOSS_REGISTRY]
        assert before == [], before
        import g2rl_verl.plugin
        from verl.trainer.ppo.core_algos import get_policy_loss_fn
        print([get_policy_loss_fn(n).__name__ for n in {OUR_LOSSES!r}])
        """,
        VERL_USE_EXTERNAL_PLUGINS="none",
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "compute_policy_loss_ce_gppo" in out.stdout


def test_entry_point_alone_registers_on_import_verl():
    out = run_python(
        """
        import verl
        from verl.trainer.ppo.core_algos import get_policy_loss_fn
        get_policy_loss_fn('gppo'); get_policy_loss_fn('ce_gppo'); print('ok')
        """
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")


def test_loud_mode_via_verl_use_external_modules():
    ok = run_python(
        "import verl; from verl.trainer.ppo.core_algos import get_policy_loss_fn; get_policy_loss_fn('gppo')",
        VERL_USE_EXTERNAL_PLUGINS="none",
        VERL_USE_EXTERNAL_MODULES="g2rl_verl.plugin",
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    broken = run_python("import verl", VERL_USE_EXTERNAL_MODULES="g2rl_verl.no_such_module")
    assert broken.returncode != 0
    assert "g2rl_verl.no_such_module" in broken.stderr


def test_plugin_import_is_light():
    out = run_python(
        """
        import sys, torch, g2rl_verl.plugin
        heavy = [m for m in ('vllm', 'sglang', 'flash_attn', 'ray.train') if m in sys.modules]
        print(heavy, torch.cuda.is_initialized())
        """,
        VERL_USE_EXTERNAL_PLUGINS="none",
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[] False"


def test_collision_guard_refuses_a_different_object_and_is_idempotent():
    registry = {}

    def ours():
        pass

    def theirs():
        pass

    register_once(registry, "gppo", ours, registry_name="TEST")
    register_once(registry, "gppo", ours, registry_name="TEST")  # same object: fine
    with pytest.raises(RegistryCollisionError, match="TEST\\['gppo'\\]"):
        register_once(registry, "gppo", theirs, registry_name="TEST")
    assert registry["gppo"] is ours


def test_plugin_refuses_to_overwrite_a_name_verl_already_has():
    out = run_python(
        """
        from verl.trainer.ppo.core_algos import POLICY_LOSS_REGISTRY
        POLICY_LOSS_REGISTRY['gppo'] = POLICY_LOSS_REGISTRY['vanilla']  # someone else took the name
        try:
            import g2rl_verl.plugin
        except Exception as e:
            print(type(e).__name__, e)
        """,
        VERL_USE_EXTERNAL_PLUGINS="none",
    )
    assert "RegistryCollisionError" in out.stdout, out.stdout + out.stderr[-2000:]
    assert "compute_policy_loss_vanilla" in out.stdout


def test_ray_worker_that_only_imports_verl_sees_our_losses():
    import shutil
    import tempfile

    ray_tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay < 108 bytes
    out = run_python(
        f"""
        import ray
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, _temp_dir={ray_tmp!r})

        @ray.remote
        def probe():
            import os, verl
            from verl.trainer.ppo.core_algos import POLICY_LOSS_REGISTRY
            return os.getpid(), [n for n in {OUR_LOSSES!r} if n in POLICY_LOSS_REGISTRY]

        pid, names = ray.get(probe.remote())
        import os
        assert pid != os.getpid()
        print(names)
        ray.shutdown()
        """
    )
    shutil.rmtree(ray_tmp, ignore_errors=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == str(OUR_LOSSES)
