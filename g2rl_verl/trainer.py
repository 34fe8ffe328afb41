"""Our trainer: verl's v1 sync trainer, reading each sample's reward results (every run of our entry point).

:class:`RewardAwareSyncTrainer` subclasses verl's ``PPOTrainerSync`` (trainer_mode stays "sync":
registering a new mode name would silently switch the base class to async semantics) and changes:

- ``_compute_old_log_prob``: for ``adv_estimator=g2rl`` it asks our engine for the features ``g2rl_phi``
  from the same pi_old forward pass, then removes the flag so the ref and update passes do no extra work;
- ``_compute_advantage``: verl's flow plus G2RL, the infrastructure-failure mask and GPPO's positive
  flags (:mod:`g2rl_verl.advantage`), and the ``reward/*`` metrics of the step;
- ``_build_replay_buffer`` / ``prepare_step``: Klear's zero-variance group filter when
  ``g2rl_verl.group_filter.enable`` (:mod:`g2rl_verl.group_filter`);
- ``_compute_metrics``: one compact console line per step (:mod:`g2rl_verl.step_log`).

:class:`RewardAwareTaskRunner` mirrors verl's ``TaskRunnerV1.run`` but builds that trainer and installs
the positive-sample NLL loss on the actor workers when α > 0.

verl 0.9.1 internals (docs/verl-integration.md): ``PPOTrainerSync`` and the bodies of
``_compute_old_log_prob`` / ``_compute_advantage`` / ``_build_replay_buffer`` / ``prepare_step``
(mirrored), ``TaskRunnerV1.run`` (mirrored), TransferQueue's ``kv_batch_get/kv_batch_put``, the tag
``is_padding``, and the per-sample ``extra_fields`` record holding ``reward_extra_info``.
"""

from __future__ import annotations

import numpy as np
import ray
import torch
from omegaconf import DictConfig, OmegaConf, open_dict
from tensordict import TensorDict
from verl import DataProto
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync
from verl.workers.utils.padding import response_to_nested

from g2rl_verl.advantage import INFRA_POLICY_KEY, AdvantageInputs, compute_advantages
from g2rl_verl.gppo import positive_nll
from g2rl_verl.names import CHUNK_KEY, G2RL_ESTIMATOR, PHI_FIELD, PHI_FLAG, POSITIVE_FIELD, REWARD_INFO_KEYS

ADVANTAGE_FIELDS = ["uid", "response_mask", "rm_scores", "rollout_log_probs", "old_log_probs", "ref_log_prob", "values"]


def reward_extra_info(extra_fields) -> list[dict]:
    """Per-sample `reward_extra_info` dicts from TransferQueue's `extra_fields` column."""
    infos = []
    for value in list(extra_fields):
        record = getattr(value, "data", value)
        infos.append(record.get("reward_extra_info", {}) if isinstance(record, dict) else {})
    return infos


def padding_rows(tags: list[dict]) -> torch.Tensor:
    """[B] bool: verl's synthetic padding samples (`upsample_batch_to_divisible_size`)."""
    return torch.tensor([bool(tag.get("is_padding", False)) for tag in tags], dtype=torch.bool)


def reward_columns(infos: list[dict], n: int) -> dict[str, torch.Tensor]:
    """acc / score01 / valid as [n] float tensors; raises naming the key when our router did not score."""
    out = {}
    for key in REWARD_INFO_KEYS:
        missing = [i for i, info in enumerate(infos) if key not in info]
        if missing:
            raise KeyError(
                f"reward extra info lacks '{key}' for sample {missing[0]} (of {len(missing)}): G2RL and the "
                "GPPO positive-sample NLL need g2rl_verl's reward router "
                "(reward.custom_reward_function.path=pkg://g2rl_verl.rewards.router)"
            )
        out[key] = torch.tensor([float(info[key]) for info in infos], dtype=torch.float32)  # [n]
        assert out[key].shape == (n,)
    return out


def reward_metrics(infos: list[dict]) -> dict[str, float]:
    """Per-step ``reward/*`` metrics from our router's per-sample results (docs/metrics.md).

    verl logs reward extra info only in validation, so the training-step rates come from here. Keys
    absent from the results (another reward function) are skipped. Pass real samples only (no padding).
    """
    out: dict[str, float] = {}
    from g2rl_verl.rewards.result import KIND_BY_ID

    kind_ids = [int(info["kind_id"]) for info in infos if "kind_id" in info]
    for kind_id, kind in sorted(KIND_BY_ID.items()):
        if kind_ids:
            out[f"reward/kind_rate/{kind.value}"] = kind_ids.count(kind_id) / len(kind_ids)
    valid = [float(info["valid"]) for info in infos if "valid" in info]
    if valid:
        out["reward/infra_failure_rate"] = 1.0 - float(np.mean(valid))
    latency = [float(info["latency_s"]) for info in infos if "latency_s" in info]
    if latency:
        out["reward/latency_s_mean"] = float(np.mean(latency))
        out["reward/latency_s_p99"] = float(np.percentile(latency, 99))
    code = [info for info in infos if int(info.get("n_selected", 0) or 0) > 0]
    if code:
        out["reward/code_pass_rate_mean"] = float(np.mean([info["n_passed"] / info["n_selected"] for info in code]))
        out["reward/code_frac"] = len(code) / len(infos)
    return out


class RewardAwareSyncTrainer(PPOTrainerSync):
    """verl's v1 sync trainer plus G2RL, the infra-failure mask, GPPO positive flags and Klear's group filter."""

    print_step_line = False  # set by the task runner when it replaced verl's console logger

    @property
    def _use_g2rl(self) -> bool:
        return self.config.algorithm.adv_estimator == G2RL_ESTIMATOR

    @property
    def _use_positive_nll(self) -> bool:
        return positive_nll.nll_coef(self.config.actor_rollout_ref.actor) > 0.0

    @property
    def _mask_infra_failures(self) -> bool:
        return OmegaConf.select(self.config, INFRA_POLICY_KEY, default="wrong") == "mask"

    # -- Klear's zero-variance group filter ---------------------------------------------------------

    def _group_filter(self):
        from g2rl_verl.group_filter import GroupFilterConfig

        return GroupFilterConfig.from_config(self.config)

    def _build_replay_buffer(self):
        section = self._group_filter()
        if not section.enable:
            return super()._build_replay_buffer()
        from g2rl_verl.group_filter import ZeroVarianceGroupFilter

        sampler = self.config.trainer.v1.sampler
        return ZeroVarianceGroupFilter(
            trainer_mode=self.trainer_mode,
            trainer_config=self.config.trainer.v1.get(self.trainer_mode, {}),
            max_off_policy_threshold=sampler.max_off_policy_threshold,
            max_off_policy_strategy=sampler.max_off_policy_strategy,
            sampler_kwargs=sampler.sampler_kwargs,
            refill_fn=self._add_prompts_to_generate,
            group_metric=section.metric,
        )

    def _init_dataloader(self):
        super()._init_dataloader()
        if self._group_filter().enable:
            self._count_steps_per_generated_batch()

    def _count_steps_per_generated_batch(self) -> None:
        """With the filter a step consumes data.gen_batch_size prompts, so an epoch has len / gen steps
        (verl counted len / train_batch_size). Mirrors verl's bookkeeping in `_init_dataloader`."""
        self.steps_per_epoch = len(self.train_dataset) // int(self.config.data.gen_batch_size)
        total = self.steps_per_epoch * self.config.trainer.total_epochs
        if self.config.trainer.total_training_steps is not None:
            total = self.config.trainer.total_training_steps
        self.total_training_steps = total
        with open_dict(self.config):
            for section in ("actor_rollout_ref.actor.optim", "critic.optim"):
                if OmegaConf.select(self.config, section):
                    OmegaConf.select(self.config, section).total_training_steps = total * self.parameter_sync_step

    def prepare_step(self) -> dict:
        if not self._group_filter().enable:
            return super().prepare_step()
        self._add_prompts_to_generate(int(self.config.data.gen_batch_size))  # N groups, no top-up later
        return {}

    # -- features -----------------------------------------------------------------------------------

    def _compute_old_log_prob(self, batch, metrics: dict):
        if not self._use_g2rl:
            return super()._compute_old_log_prob(batch, metrics)
        batch.extra_info[PHI_FLAG] = True
        batch.extra_info[CHUNK_KEY] = int(self.config.algorithm.g2rl.feature_chunk_tokens)
        try:
            return super()._compute_old_log_prob(batch, metrics)
        finally:  # the ref-model and update passes must not pay for features
            batch.extra_info.pop(PHI_FLAG, None)
            batch.extra_info.pop(CHUNK_KEY, None)

    # -- advantages ---------------------------------------------------------------------------------

    def _compute_advantage(self, batch, metrics: dict):
        import transfer_queue as tq

        infos = reward_extra_info(self._get(tq, batch, ["extra_fields"])["extra_fields"])
        is_padding = padding_rows(batch.tags)
        metrics.update(reward_metrics([info for info, pad in zip(infos, is_padding.tolist()) if not pad]))
        if not (self._use_g2rl or self._use_positive_nll or self._mask_infra_failures):
            return super()._compute_advantage(batch, metrics)  # verl, untouched

        rewards = reward_columns(infos, len(batch))
        data, response_mask = self._advantage_batch(tq, batch)
        inputs = AdvantageInputs(
            keys=list(batch.keys),
            is_padding=is_padding,
            valid=rewards["valid"] > 0.5,
            mask_infra_failures=self._mask_infra_failures,
            phi=self._features(tq, batch) if self._use_g2rl else None,
        )
        data, fields = compute_advantages(
            data,
            inputs,
            self.config.algorithm,
            kl_ctrl=getattr(self, "kl_ctrl_in_reward", None),
            num_repeat=self.config.actor_rollout_ref.rollout.n,
            metrics=metrics,
        )
        output = {name: response_to_nested(data.batch[name], response_mask) for name in fields}
        output.update(self._positive_flags(rewards["acc"], is_padding, metrics))
        return tq.kv_batch_put(
            keys=batch.keys, partition_id=batch.partition_id, fields=TensorDict(output, batch_size=len(batch))
        )

    @staticmethod
    def _get(tq, batch, fields: list[str]):
        return tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=fields)

    def _advantage_batch(self, tq, batch) -> tuple[DataProto, torch.Tensor]:
        """verl's advantage inputs as a padded DataProto (as its `_compute_advantage` builds it)."""
        td = self._get(tq, batch, ADVANTAGE_FIELDS)
        response_mask = td["response_mask"]  # nested: the layout of every write-back
        data = DataProto(batch=td.to_padded_tensor())
        data.batch["token_level_scores"] = data.batch["rm_scores"]
        data.non_tensor_batch["uid"] = np.array(data.batch.pop("uid").tolist(), dtype=object)
        return data, response_mask

    def _features(self, tq, batch) -> torch.Tensor:
        phi = self._get(tq, batch, [PHI_FIELD])[PHI_FIELD]
        return (phi.to_padded_tensor(0.0) if phi.is_nested else phi).float()  # [B, d]

    def _positive_flags(self, acc: torch.Tensor, is_padding: torch.Tensor, metrics: dict) -> dict:
        positive = positive_nll.positive_flags(acc, is_padding)  # [B]
        real = ~is_padding
        if real.any():
            metrics["gppo/positive_frac"] = positive[real].mean().item()
        return {POSITIVE_FIELD: positive}

    # -- logs ---------------------------------------------------------------------------------------

    def _compute_metrics(self, batch, metrics, timing_raw, global_steps, epoch):
        super()._compute_metrics(batch, metrics, timing_raw, global_steps, epoch)
        if self.print_step_line:
            from g2rl_verl.step_log import step_line

            print(step_line(global_steps, metrics), flush=True)


@ray.remote
class RewardAwareTaskRunner:
    """Mirror of verl 0.9.1 `TaskRunnerV1` that builds `RewardAwareSyncTrainer`."""

    def __init__(self):
        self.config = None
        self.trainer = None
        self.agent_loop_manager = None

    def init_agent_loop_manager(self):
        from verl.trainer.ppo.v1 import AgentLoopManagerTQ
        from verl.utils.import_utils import load_class_from_fqn

        fqn = self.config.actor_rollout_ref.rollout.get("agent", {}).get("agent_loop_manager_class")
        manager_cls = load_class_from_fqn(fqn, "AgentLoopManager") if fqn else AgentLoopManagerTQ
        self.agent_loop_manager = manager_cls.create(
            config=self.config,
            llm_client=self.trainer.get_llm_client(),
            teacher_client=self.trainer.get_teacher_client(),
            reward_loop_worker_handles=self.trainer.get_reward_handles(),
        )

    def run(self, config: DictConfig):
        import transfer_queue as tq
        from verl.utils.logging_utils import configure_verl_logging

        import g2rl_verl.plugin  # noqa: F401  (also loaded by the entry point; here it fails loudly)

        configure_verl_logging()
        config.transfer_queue.enable = True
        compact = use_compact_console(config)
        OmegaConf.resolve(config)
        self.config = config
        tq.init(config.transfer_queue)
        succeeded = False
        try:
            self.trainer = RewardAwareSyncTrainer(config=config)
            self.trainer.print_step_line = compact
            self.trainer.init()
            positive_nll.install(self.trainer)
            self.init_agent_loop_manager()
            self.trainer.fit(self.agent_loop_manager)
            succeeded = True
        finally:
            try:
                tracking = getattr(self.trainer, "logger", None)
                if tracking is not None:
                    tracking.finish(exit_code=0 if succeeded else 1)
            finally:
                tq.close()


def use_compact_console(config: DictConfig) -> bool:
    """Replace verl's `console` logger by our one-line step log (g2rl_verl.compact_console); True if done."""
    loggers = config.trainer.get("logger", [])
    loggers = [loggers] if isinstance(loggers, str) else list(loggers or [])
    if "console" not in loggers or not OmegaConf.select(config, "g2rl_verl.compact_console", default=True):
        return False
    with open_dict(config):
        config.trainer.logger = [name for name in loggers if name != "console"]
    return True
