"""Klear-Reasoner's positive-sample NLL term (paper Eq. 8 / Eq. 13, α = 0.1): everything about it lives here.

The startup rules (`validate_positive_nll`), the per-sample positive flags the trainer writes
(`positive_flags`), the mini-batch token count the engine takes (`annotate_positive_token_count`), the
loss wrapper (`PPOLossWithPositiveNLL`) and its installation on the actor workers (`install`).

A registered policy loss cannot see per-sample rewards (verl's `ppo_loss` selects only response_mask,
old_log_probs, advantages, rollout_is_weights and ref_log_prob). So the term lives in a wrapper around
verl's `ppo_loss`, installed on the actor workers by our trainer with
`ActorRolloutRefWorker.set_loss_fn` (pickled by reference: this module must be importable there).

Route of the data (verl 0.9.1, v1 trainer):
1. the reward result's `acc` (1 iff the response is fully correct) is stored per sample by the reward
   loop; our trainer turns it into the per-sample field `gppo_positive` (float 0/1) in TransferQueue
   during `_compute_advantage`;
2. `update_actor` fetches every field of the batch, so `gppo_positive` reaches the engine;
3. our engine's `forward_backward_batch` counts the positive response tokens of the whole mini-batch
   across DP ranks (`annotate_positive_token_count`, the same way verl counts `batch_num_tokens`) and
   stores the count as non-tensor data, which every micro-batch inherits;
4. this wrapper adds α · Σ_{positive tokens}(−log π) · dp_size / N_pos per micro-batch, so the summed
   gradient is α times the mean NLL over the mini-batch's positive tokens, independent of the
   micro-batch split (docs/methods.md, "Positive-sample NLL").

Order as in the reference: pg_loss − entropy_coeff·entropy + kl_coef·kl (inside ppo_loss) + α·NLL_pos.

Depends on verl 0.9.1 internals: `verl.workers.utils.losses.ppo_loss` and its `(model_output, data,
dp_group)` calling convention, `no_padding_2_padding`, the non-tensor keys `dp_size` /
`batch_num_tokens`, and `verl.utils.metric.Metric`.
"""

from __future__ import annotations

import torch
from tensordict import TensorDict
from verl.utils import tensordict_utils as tu
from verl.utils.metric import AggregationType, Metric
from verl.workers.utils.losses import ppo_loss
from verl.workers.utils.padding import no_padding_2_padding

from g2rl_verl.names import NUM_POSITIVE_TOKENS_KEY, POSITIVE_FIELD, REWARD_ROUTER_PATH

NLL_COEF_KEY = "actor_rollout_ref.actor.policy_loss.positive_nll_coef"


def nll_coef(actor_cfg) -> float:
    """α from the `actor_rollout_ref.actor` config (0 when the key is absent)."""
    return float(actor_cfg.policy_loss.get("positive_nll_coef", 0.0) or 0.0)


def validate_positive_nll(cfg) -> None:
    """Startup rules of α > 0; raises ValueError naming the key."""
    from omegaconf import OmegaConf

    coef = OmegaConf.select(cfg, NLL_COEF_KEY, default=0.0) or 0.0
    if not coef:
        return
    if OmegaConf.select(cfg, "reward.custom_reward_function.path") != REWARD_ROUTER_PATH:
        raise ValueError(
            f"{NLL_COEF_KEY}={coef} needs per-sample `acc` from our reward router: "
            f"set reward.custom_reward_function.path={REWARD_ROUTER_PATH}"
        )
    if OmegaConf.select(cfg, "distillation.enabled", default=False):
        # verl installs distillation_ppo_loss as the actor's loss; ours would silently replace it.
        raise ValueError(
            f"{NLL_COEF_KEY}={coef} with distillation.enabled=true: the NLL term wraps verl's plain ppo_loss and "
            f"would replace the distillation loss. Set {NLL_COEF_KEY}=0 or distillation.enabled=false."
        )


def positive_flags(acc: torch.Tensor, is_padding: torch.Tensor) -> torch.Tensor:
    """[B] float 0/1 `gppo_positive`: the reward's `acc` (1 iff fully correct), 0 for verl's padding samples."""
    return torch.where(is_padding.bool(), torch.zeros_like(acc), (acc > 0.5).float())  # [B]


def install(trainer) -> None:
    """Replace the actor workers' `ppo_loss` with the NLL wrapper when α > 0 (`set_loss_fn`)."""
    if nll_coef(trainer.config.actor_rollout_ref.actor) <= 0.0:
        return
    from verl.utils.config import omega_conf_to_dataclass

    actor_config = omega_conf_to_dataclass(trainer.config.actor_rollout_ref.actor)
    trainer.actor_rollout_wg.set_loss_fn(PPOLossWithPositiveNLL(actor_config))


def positive_token_mask(response_mask: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """[B, T] bool: response tokens of positive responses (response_mask [B, T], positive [B])."""
    return response_mask.bool() & (positive.reshape(-1, 1) > 0.5)  # [B, T]


def positive_nll_sum(log_prob: torch.Tensor, response_mask: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """Σ over positive-response tokens of −log π (a scalar; 0 when there is no positive token)."""
    mask = positive_token_mask(response_mask, positive)  # [B, T]
    return -(log_prob * mask).sum()  # []


def _per_sample(value: torch.Tensor) -> torch.Tensor:
    """A per-sample field as a dense [B] float tensor (TransferQueue may hand it back nested)."""
    if value.is_nested:
        value = value.to_padded_tensor(0.0)
    return value.reshape(value.shape[0], -1)[:, 0].float()  # [B]


def annotate_positive_token_count(data: TensorDict, dp_group) -> None:
    """Store N_pos, the number of positive-response tokens of the whole mini-batch on all DP ranks.

    Called by our engine's `forward_backward_batch` before the mini-batch is split into micro-batches,
    mirroring how verl computes `batch_num_tokens` there. No-op when the batch has no `gppo_positive`.
    """
    if POSITIVE_FIELD not in data.keys():
        return
    positive = _per_sample(data[POSITIVE_FIELD])  # [B]
    response_mask = data["response_mask"]
    if response_mask.is_nested:
        lengths = torch.stack([row.sum() for row in response_mask.unbind()])  # [B]
    else:
        lengths = response_mask.sum(dim=-1)  # [B]
    count = (lengths.float() * (positive > 0.5).float()).sum()  # []
    if torch.distributed.is_initialized():
        device = response_mask.device if not response_mask.is_nested else response_mask.values().device
        count = count.to(device)
        torch.distributed.all_reduce(count, op=torch.distributed.ReduceOp.SUM, group=dp_group)
    tu.assign_non_tensor(data, **{NUM_POSITIVE_TOKENS_KEY: int(round(count.item()))})


class PPOLossWithPositiveNLL:
    """verl's `ppo_loss` + α · NLL over positive responses. α = `policy_loss.positive_nll_coef`."""

    def __init__(self, config):
        self.config = config  # the actor's ActorConfig, whose policy_loss is a GPPOPolicyLossConfig
        self.coef = float(getattr(config.policy_loss, "positive_nll_coef", 0.0))

    def __call__(self, model_output, data: TensorDict, dp_group=None):
        loss, metrics = ppo_loss(self.config, model_output, data, dp_group)
        if self.coef == 0.0 or model_output is None or "log_probs" not in model_output:
            return loss, metrics
        if POSITIVE_FIELD not in data.keys():
            raise KeyError(
                f"positive_nll_coef={self.coef} but the actor batch has no '{POSITIVE_FIELD}' field; "
                "launch through `python -m g2rl_verl.main`, whose trainer writes it"
            )
        n_pos = tu.get_non_tensor_data(data=data, key=NUM_POSITIVE_TOKENS_KEY, default=None)
        if n_pos is None:
            raise KeyError(
                f"'{NUM_POSITIVE_TOKENS_KEY}' missing: the mini-batch positive-token count comes from "
                "g2rl_verl's engine (registered by the g2rl_verl plugin); is the plugin loaded in the worker?"
            )
        dp_size = data["dp_size"]

        log_prob = no_padding_2_padding(model_output["log_probs"], data)  # [B, T]
        response_mask = data["response_mask"]
        if response_mask.is_nested:
            response_mask = response_mask.to_padded_tensor(0)
        response_mask = response_mask[:, : log_prob.shape[1]].bool()  # [B, T]
        positive = _per_sample(data[POSITIVE_FIELD]).to(log_prob.device)  # [B]

        nll_sum = positive_nll_sum(log_prob, response_mask, positive)  # []
        nll = nll_sum * dp_size / max(int(n_pos), 1)  # [] this micro-batch's share of the mini-batch mean
        loss = loss + self.coef * nll

        local_tokens = response_mask.sum().clamp(min=1)
        metrics["actor/positive_nll"] = Metric(value=nll.detach(), aggregation=AggregationType.SUM)
        metrics["actor/positive_token_frac"] = Metric(
            value=(positive_token_mask(response_mask, positive).sum() / local_tokens).item(), aggregation="mean"
        )
        return loss, metrics
