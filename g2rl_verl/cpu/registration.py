"""``register()``: puts the CPU platform and the ``hf`` rollout backend into verl's registries.

Called by ``g2rl_verl.plugin`` inside ``import verl`` in every process. Import cost: the rollout
registries live in ``verl.workers.rollout.base`` / ``.replica``, which pull in ``verl.workers.config``
(about 0.5 s on an idle 2-core box when nothing else has loaded them; the trainer, worker and
agent-loop processes load them anyway). The backend itself is registered by name (verl imports
``HFServerAdapter`` lazily, ``verl/workers/rollout/base.py:107-110``) and through a loader function
(``RolloutReplicaRegistry``), so ``g2rl_verl.cpu.hf_rollout`` is imported only where it is used.
"""

from __future__ import annotations

import sys

ROLLOUT_NAME = "hf"
ADAPTER_PATH = "g2rl_verl.cpu.hf_rollout.HFServerAdapter"


def load_hf_replica():
    """RolloutReplicaRegistry loader: import the replica class only when a trainer asks for it."""
    from g2rl_verl.cpu.hf_rollout import HFRolloutReplica

    return HFRolloutReplica


def register_hf_rollout() -> None:
    """Register ``actor_rollout_ref.rollout.name=hf`` (async server mode). Idempotent."""
    from verl.workers.rollout.base import _ROLLOUT_REGISTRY
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    key = (ROLLOUT_NAME, "async")
    existing = _ROLLOUT_REGISTRY.get(key)
    if existing is not None and existing != ADAPTER_PATH:
        raise RuntimeError(
            f"verl's rollout registry maps {key} to {existing!r}; g2rl_verl refuses to replace it"
        )
    loader = RolloutReplicaRegistry._registry.get(ROLLOUT_NAME)
    if loader is not None and (
        getattr(loader, "__module__", None),
        getattr(loader, "__qualname__", None),
    ) != (
        __name__,
        load_hf_replica.__qualname__,
    ):
        raise RuntimeError(
            f"verl's RolloutReplicaRegistry has {ROLLOUT_NAME!r} -> {loader!r}; g2rl_verl refuses to replace it"
        )
    _ROLLOUT_REGISTRY[key] = ADAPTER_PATH
    RolloutReplicaRegistry.register(ROLLOUT_NAME, load_hf_replica)


def register_platform() -> None:
    partial = sys.modules.get("g2rl_verl.cpu.platform")
    if partial is not None and not hasattr(partial, "register"):
        raise ImportError(
            "g2rl_verl.cpu.platform was imported before verl: its `from verl...` import ran verl's plugins, "
            "which need the half-imported module. `import verl` first."
        )
    from g2rl_verl.cpu import platform

    platform.register()


def register() -> None:
    """Register the ``cpu`` platform (selected only by VERL_PLATFORM=cpu) and the ``hf`` rollout backend."""
    register_platform()
    register_hf_rollout()
