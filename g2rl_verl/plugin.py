"""The one module verl loads to get everything g2rl_verl adds.

Loaded in every process that imports verl (driver, TaskRunner, actor/rollout/ref workers, reward-loop
workers) through the `verl.plugins` entry point declared in pyproject.toml. verl swallows plugin
import errors at DEBUG level, so launch recipes also export
`VERL_USE_EXTERNAL_MODULES=g2rl_verl.plugin`, which imports this module loudly. Importing it twice
under the same name is harmless (same module object); never load it by file path.

Import-light: it imports only the registries it fills, starts nothing and touches no accelerator.
"""

from __future__ import annotations

from g2rl_verl.gppo import policy_loss as _gppo_policy_loss

_gppo_policy_loss.register()

# Fail fast here rather than at the first actor update ("Unsupported loss mode").
from verl.trainer.ppo.core_algos import POLICY_LOSS_REGISTRY as _POLICY_LOSS_REGISTRY  # noqa: E402

_missing = [name for name in _gppo_policy_loss.POLICY_LOSSES if name not in _POLICY_LOSS_REGISTRY]
if _missing:
    raise RuntimeError(f"g2rl_verl.plugin: policy losses {_missing} failed to register")
