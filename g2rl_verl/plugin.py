"""The one module verl loads to get everything g2rl_verl adds.

Loaded in every process that imports verl (driver, TaskRunner, actor/rollout/ref workers, reward-loop
workers) through the `verl.plugins` entry point declared in pyproject.toml. verl swallows plugin
import errors at DEBUG level, so launch recipes also export
`VERL_USE_EXTERNAL_MODULES=g2rl_verl.plugin`, which imports this module loudly. Importing it twice
under the same name is harmless (same module object); never load it by file path.

Import-light: it imports only the registries it fills, starts nothing and touches no accelerator.
"""

from __future__ import annotations

# CPU support first: importing verl's FSDP engine (below) fixes the process's platform at module level
# (verl/workers/engine/fsdp/transformer_impl.py:89), so "cpu" must already be registered by then.
from g2rl_verl.cpu import registration as _cpu_registration

_cpu_registration.register()  # platform "cpu" (only used with VERL_PLATFORM=cpu) + rollout.name=hf

from g2rl_verl.g2rl import engine as _g2rl_engine
from g2rl_verl.g2rl import estimator as _g2rl_estimator
from g2rl_verl.gppo import policy_loss as _gppo_policy_loss
from g2rl_verl.names import G2RL_ESTIMATOR, GPPO_LOSS_NAMES

_gppo_policy_loss.register()  # POLICY_LOSS_REGISTRY: gppo, gppo_only_high, ce_gppo
_g2rl_estimator.register()  # ADV_ESTIMATOR_REGISTRY: g2rl
_g2rl_engine.register()  # EngineRegistry language_model/fsdp(2): G2RL features + GPPO positive-token count

# Fail fast here rather than at the first actor update ("Unsupported loss mode").
from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY as _ADV_REGISTRY
from verl.trainer.ppo.core_algos import POLICY_LOSS_REGISTRY as _LOSS_REGISTRY

_missing = [name for name in GPPO_LOSS_NAMES if name not in _LOSS_REGISTRY]
_missing += [] if G2RL_ESTIMATOR in _ADV_REGISTRY else [f"{G2RL_ESTIMATOR} (advantage estimator)"]
if _missing:
    raise RuntimeError(f"g2rl_verl.plugin: {_missing} failed to register")

# One line per Ray worker naming its node, so a multi-node job's log shows where the plugin loaded.
from g2rl_verl import node_marker as _node_marker

_node_marker.announce(
    f"plugin registered policy losses {','.join(GPPO_LOSS_NAMES)}, advantage estimator {G2RL_ESTIMATOR},"
    " rollout hf"
)
