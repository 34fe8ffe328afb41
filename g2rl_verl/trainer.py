"""Our v1 sync trainer and TaskRunner: where G2RL features and GPPO's positive flags meet verl.

`G2RLTrainer` subclasses verl's `PPOTrainerSync` (trainer_mode stays "sync": registering a new mode
name would silently switch the base class to async semantics) and changes two steps:

- `_compute_old_log_prob`: for `algorithm.adv_estimator=g2rl` it sets the non-tensor flag
  `g2rl_compute_phi` so our engine also returns the per-response feature `g2rl_phi` [bsz, d] from the
  same π_old forward pass (at the rollout temperature); verl's tqbridge stores it in TransferQueue.
  The flag is removed right after, so the ref-model and update passes do no extra work.
- `_compute_advantage`: verl's flow (KL-in-reward, rollout correction, multi-trajectory GRPO) plus
  (a) G2RL: base rewards r = 2·score01 − 1 from the reward results, Φ from TransferQueue, shaped
  rewards standardised by verl's GRPO estimator (`g2rl_verl.g2rl_estimator`), and (b) GPPO's
  positive-sample flag `gppo_positive` = reward `acc`, written back per sample for the NLL term.

`G2RLTaskRunner` mirrors verl's `TaskRunnerV1.run` but builds `G2RLTrainer`, and installs the
positive-NLL loss wrapper on the actor workers when `policy_loss.positive_nll_coef > 0`.

Depends on verl 0.9.1 internals (pin verl==0.9.1): `verl.trainer.ppo.v1.PPOTrainerSync` and the
bodies of its `_compute_old_log_prob` / `_compute_advantage` (mirrored here), `TaskRunnerV1.run`
(mirrored), TransferQueue's `kv_batch_get/kv_batch_put`, the per-sample `extra_fields` record that
holds `reward_extra_info`, and `ActorRolloutRefWorker.set_loss_fn`.
"""

from __future__ import annotations

import logging

import numpy as np
import ray
import torch
from omegaconf import DictConfig, OmegaConf
from tensordict import TensorDict

from verl import DataProto
from verl.trainer.ppo.ray_trainer import apply_kl_penalty
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync
from verl.trainer.ppo.v1.utils import compute_advantage_for_multi_trajectories
from verl.workers.utils.padding import response_to_nested

logger = logging.getLogger(__name__)

PHI_FLAG = "g2rl_compute_phi"
CHUNK_KEY = "g2rl_feature_chunk_tokens"
PHI_FIELD = "g2rl_phi"
POSITIVE_FIELD = "gppo_positive"
REWARD_INFO_KEYS = ("acc", "score01", "valid")


def _reward_extra_info(extra_fields) -> list[dict]:
    """Per-sample `reward_extra_info` dicts from TransferQueue's `extra_fields` column."""
    infos = []
    for value in list(extra_fields):
        record = getattr(value, "data", value)
        infos.append(record.get("reward_extra_info", {}) if isinstance(record, dict) else {})
    return infos


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
    """Per-step reward metrics from our router's per-sample results (rewards.md §7).

    verl logs reward extra info only in validation, so the training-step rates come from here. Keys
    absent from the results (another reward function) are skipped.
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


class G2RLTrainer(PPOTrainerSync):
    """verl's v1 sync trainer plus G2RL feature/shaping and GPPO positive flags."""

    @property
    def _use_g2rl(self) -> bool:
        return self.config.algorithm.adv_estimator == "g2rl"

    @property
    def _use_positive_nll(self) -> bool:
        return float(self.config.actor_rollout_ref.actor.policy_loss.get("positive_nll_coef", 0.0)) > 0.0

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

    def _compute_advantage(self, batch, metrics: dict):
        import transfer_queue as tq

        extra = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=["extra_fields"])
        infos = _reward_extra_info(extra["extra_fields"])
        metrics.update(reward_metrics(infos))
        if not (self._use_g2rl or self._use_positive_nll):
            return super()._compute_advantage(batch, metrics)

        algo = self.config.algorithm
        fields = ["uid", "response_mask", "rm_scores", "rollout_log_probs", "old_log_probs", "ref_log_prob", "values"]
        data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=fields)
        rewards = reward_columns(infos, len(batch))

        response_mask = data["response_mask"]
        data = DataProto(batch=data.to_padded_tensor())
        data.batch["token_level_scores"] = data.batch["rm_scores"]
        data.non_tensor_batch["uid"] = np.array(data.batch.pop("uid").tolist(), dtype=object)

        if algo.use_kl_in_reward:
            data, kl_metrics = apply_kl_penalty(data, kl_ctrl=self.kl_ctrl_in_reward, kl_penalty=algo.kl_penalty)
            metrics.update(kl_metrics)
        else:
            data.batch["token_level_rewards"] = data.batch["token_level_scores"]

        rollout_corr = algo.get("rollout_correction", None)
        if rollout_corr is not None and rollout_corr.get("bypass_mode", False) and self._use_g2rl:
            raise ValueError("algorithm.rollout_correction.bypass_mode=true skips the π_old pass that G2RL needs")
        use_rollout_corr = rollout_corr is not None and "rollout_log_probs" in data.batch
        if use_rollout_corr:
            from verl.trainer.ppo.rollout_corr_helper import compute_rollout_correction_and_add_to_batch

            data, is_metrics = compute_rollout_correction_and_add_to_batch(data, rollout_corr)
            metrics.update(is_metrics)

        if self._use_g2rl:
            from g2rl_verl.g2rl_estimator import compute_g2rl_advantage_with_metrics

            phi_td = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=[PHI_FIELD])
            phi = phi_td[PHI_FIELD]
            phi = phi.to_padded_tensor(0.0) if phi.is_nested else phi  # [B, d]
            advantages, returns, g2rl_metrics = compute_g2rl_advantage_with_metrics(
                token_level_rewards=data.batch["token_level_rewards"],
                response_mask=data.batch["response_mask"],
                index=data.non_tensor_batch["uid"],
                config=algo,
                g2rl_phi=phi.float(),
                score01=rewards["score01"],
                valid=rewards["valid"],
            )
            data.batch["advantages"] = advantages
            data.batch["returns"] = returns
            metrics.update(g2rl_metrics)
        else:
            data = compute_advantage_for_multi_trajectories(
                data,
                batch_keys=batch.keys,
                adv_estimator=algo.adv_estimator,
                gamma=algo.gamma,
                lam=algo.lam,
                num_repeat=self.config.actor_rollout_ref.rollout.n,
                norm_adv_by_std_in_grpo=algo.get("norm_adv_by_std_in_grpo", True),
                config=algo,
            )

        out_fields = ["advantages", "returns"]
        if algo.use_kl_in_reward:
            out_fields.append("token_level_rewards")
        if use_rollout_corr:
            out_fields.append("response_mask")
            if "rollout_is_weights" in data.batch:
                out_fields.append("rollout_is_weights")
        output = {name: response_to_nested(data.batch[name], response_mask) for name in out_fields}
        output[POSITIVE_FIELD] = rewards["acc"]  # [B] 1.0 iff every check passed (kind == correct)
        metrics["gppo/positive_frac"] = rewards["acc"].mean().item()
        return tq.kv_batch_put(
            keys=batch.keys, partition_id=batch.partition_id, fields=TensorDict(output, batch_size=len(batch))
        )


@ray.remote
class G2RLTaskRunner:
    """Mirror of verl 0.9.1 `TaskRunnerV1` that builds `G2RLTrainer` (verl-0.9.md §7.2)."""

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
        OmegaConf.resolve(config)
        self.config = config
        tq.init(config.transfer_queue)
        succeeded = False
        try:
            self.trainer = G2RLTrainer(config=config)
            self.trainer.init()
            install_actor_loss(self.trainer)
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


def install_actor_loss(trainer: G2RLTrainer) -> None:
    """Replace the actor's `ppo_loss` with the positive-NLL wrapper when α > 0 (gppo.md §9)."""
    if not trainer._use_positive_nll:
        return
    from verl.utils.config import omega_conf_to_dataclass

    from g2rl_verl.gppo.positive_nll import PPOLossWithPositiveNLL

    actor_config = omega_conf_to_dataclass(trainer.config.actor_rollout_ref.actor)
    trainer.actor_rollout_wg.set_loss_fn(PPOLossWithPositiveNLL(actor_config))
