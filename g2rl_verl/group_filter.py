"""Klear-Reasoner's zero-variance group filter: generate N prompts' groups, keep the mixed ones up to
the train batch, never top up (``g2rl_verl.group_filter.*``).

verl 0.9.1's own ``algorithm.filter_groups`` on the v1 sync trainer is DAPO's filter instead: it forces
``data.gen_batch_size=1``, ignores ``max_num_gen_batches`` and keeps generating until exactly
``train_batch_size`` groups with a non-zero spread exist. Klear's reference generates a fixed 256
prompts' groups per step, drops every group whose ``acc`` has zero spread, keeps at most 128 of the
rest and trains on what is left. That is what this module does (docs/verl-integration.md,
"Zero-variance group filter"):

- :func:`select_mixed_groups`: the pure rule (which uids are kept, dropped as uniform, dropped as surplus);
- :class:`ZeroVarianceGroupFilter`: verl's sync ``ReplayBuffer`` with ``sample`` replaced by that rule,
  built by our trainer (:mod:`g2rl_verl.trainer`), which also submits ``data.gen_batch_size`` prompts per
  step instead of ``data.train_batch_size``.

Per step it logs ``training/group_filter/{generated,kept,dropped_uniform,dropped_surplus}`` (groups).
A step in which no group is mixed raises: there is nothing to train on, and topping up would change the
semantics.

verl internals used (verl 0.9.1): ``verl.trainer.ppo.v1.replay_buffer.ReplayBuffer`` (its metadata sync,
``_clear_groups``, ``_materialize_batch``, ``_wait_for_next_poll`` and the key format
``{uid}_{session}_{index}``), TransferQueue's ``kv_batch_get`` and the ``extra_fields.reward_extra_info``
record.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import transfer_queue as tq
from omegaconf import OmegaConf
from transfer_queue import KVBatchMeta
from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer

KEY = "g2rl_verl.group_filter"
METRIC_PREFIX = "training/group_filter"


@dataclass(frozen=True)
class GroupFilterConfig:
    """``g2rl_verl.group_filter.*``: ``enable`` and the reward-result key whose spread decides (``metric``)."""

    enable: bool = False
    metric: str = "acc"

    @classmethod
    def from_config(cls, cfg) -> GroupFilterConfig:
        section = OmegaConf.select(cfg, KEY, default=None)
        if section is None:
            return cls()
        values = dict(section)
        unknown = sorted(set(values) - {"enable", "metric"})
        if unknown:
            raise ValueError(f"unknown key(s) {KEY}.{', '.join(unknown)}; valid keys: ['enable', 'metric']")
        out = cls(**values)
        if not isinstance(out.enable, bool):
            raise ValueError(f"{KEY}.enable={out.enable!r} must be true or false")  # noqa: TRY004 (config value)
        if not isinstance(out.metric, str) or not out.metric:
            raise ValueError(f"{KEY}.metric={out.metric!r} must name a reward result key, e.g. acc")
        if out.enable:
            gen = OmegaConf.select(cfg, "data.gen_batch_size", default=None)
            train = OmegaConf.select(cfg, "data.train_batch_size")
            if gen is None or int(gen) < int(train):
                raise ValueError(
                    f"{KEY}.enable=true needs data.gen_batch_size (prompts generated per step, Klear: 256) >= "
                    f"data.train_batch_size (at most kept, Klear: 128); got {gen} and {train}"
                )
        return out


@dataclass(frozen=True)
class GroupSelection:
    kept: list[str]
    dropped_uniform: list[str]
    dropped_surplus: list[str]

    def metrics(self) -> dict[str, int]:
        kept, uniform, surplus = len(self.kept), len(self.dropped_uniform), len(self.dropped_surplus)
        return {
            f"{METRIC_PREFIX}/generated": kept + uniform + surplus,
            f"{METRIC_PREFIX}/kept": kept,
            f"{METRIC_PREFIX}/dropped_uniform": uniform,
            f"{METRIC_PREFIX}/dropped_surplus": surplus,
        }


def select_mixed_groups(values_by_uid: dict[str, list[float]], order: list[str], target: int) -> GroupSelection:
    """Keep, in ``order``, the groups whose values are not all equal, up to ``target``; drop the rest.

    A group with fewer than two values has no spread and is dropped as uniform.
    """
    kept, uniform, surplus = [], [], []
    for uid in order:
        values = values_by_uid.get(uid, [])
        if len(values) < 2 or float(np.std(values)) == 0.0:
            uniform.append(uid)
        elif len(kept) < target:
            kept.append(uid)
        else:
            surplus.append(uid)
    return GroupSelection(kept, uniform, surplus)


class ZeroVarianceGroupFilter(ReplayBuffer):
    """verl's sync replay buffer, sampling with Klear's no-top-up rule (module docstring)."""

    def __init__(self, *args, group_metric: str = "acc", **kwargs):
        super().__init__(*args, **kwargs)
        self.group_metric = group_metric

    def sample(self, global_steps: int, partition_id: str, batch_size: int) -> tuple[KVBatchMeta, dict]:
        if partition_id == "val":
            return super().sample(global_steps, partition_id, batch_size)
        last_debug_time = 0.0
        while True:  # every group generated for this step must be terminal before we judge any
            self._sync_metadata_from_transfer_queue()
            if not (self.pending_keys[partition_id] or self.running_keys[partition_id]):
                break
            last_debug_time = self._wait_for_next_poll(partition_id, last_debug_time)

        terminal = self.finished_keys[partition_id] | self.failure_keys[partition_id]
        steps = self.prompt_global_steps[partition_id]
        order = sorted(terminal, key=lambda uid: (steps.get(uid, 0), uid))
        selection = select_mixed_groups(self._group_values(partition_id, terminal), order, batch_size)
        if not selection.kept:
            raise RuntimeError(
                f"g2rl_verl.group_filter: step {global_steps} generated {len(order)} groups and every one has zero "
                f"spread in reward `{self.group_metric}`, so there is nothing to train on (Klear's filter never "
                "tops up). The data is too easy or too hard for the policy: filter it offline, or raise "
                "data.gen_batch_size."
            )
        partition_snapshot = dict(self.partitions[partition_id])
        self._clear_groups(partition_id, set(selection.dropped_uniform) | set(selection.dropped_surplus))
        batch = self._materialize_batch(partition_id, selection.kept, partition_snapshot)
        return batch, selection.metrics()

    def _group_values(self, partition_id: str, uids: set[str]) -> dict[str, list[float]]:
        """``reward_extra_info[metric]`` of every trajectory of the given groups, by uid."""
        keys = [key for key in self.partitions[partition_id] if key.split("_")[0] in uids]
        values: dict[str, list[float]] = defaultdict(list)
        if not keys:
            return values
        data = tq.kv_batch_get(keys=keys, partition_id=partition_id, select_fields=["extra_fields"])
        for key, record in zip(keys, list(data["extra_fields"]), strict=True):
            record = getattr(record, "data", record)
            info = record.get("reward_extra_info", {}) if isinstance(record, dict) else {}
            if self.group_metric not in info:
                raise RuntimeError(
                    f"g2rl_verl.group_filter.metric={self.group_metric!r} is missing from the reward results of "
                    f"trajectory {key}; use a key our reward router returns (acc, score01, ...)"
                )
            values[key.split("_")[0]].append(float(info[self.group_metric]))
        return values
