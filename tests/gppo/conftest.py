"""Builders shared by the GPPO tests: a real verl ActorConfig and a micro-batch as verl's engine hands it
to the loss function (nested prompts/responses, padded per-token fields, global-batch non-tensor data)."""

from __future__ import annotations

import pytest
import torch
from tensordict import TensorDict
from verl.utils import tensordict_utils as tu
from verl.workers.config import ActorConfig

from g2rl_verl.gppo.config import GPPOPolicyLossConfig


def make_actor_config(
    loss_mode="gppo", eps_low=0.2, eps_high=0.28, clip_c=10.0, agg="token-mean", beta1=1.0, beta2=1.0, nll=0.0
) -> ActorConfig:
    return ActorConfig(
        strategy="fsdp",
        rollout_n=1,
        ppo_micro_batch_size_per_gpu=1,
        clip_ratio=0.2,
        clip_ratio_low=eps_low,
        clip_ratio_high=eps_high,
        clip_ratio_c=clip_c,
        loss_agg_mode=agg,
        policy_loss=GPPOPolicyLossConfig(
            loss_mode=loss_mode, gppo_beta1=beta1, gppo_beta2=beta2, positive_nll_coef=nll
        ),
    )


def make_micro_batch(log_prob, old_log_prob, advantages, response_mask, prompt_len=2, extra=None, **non_tensor):
    """Return (model_output, data) for `ppo_loss`-style loss functions.

    log_prob etc. are padded [B, T]; each sample's response length is its mask sum (right padded).
    model_output["log_probs"] is nested over prompt+response with the response values where verl's
    `no_padding_2_padding` reads them (shifted left by one position).
    """
    B, T = log_prob.shape
    resp_lens = response_mask.sum(-1).long().tolist()
    seq_values, prompts, responses = [], [], []
    for b in range(B):
        r = resp_lens[b]
        values = torch.zeros(prompt_len + r, dtype=log_prob.dtype)
        values = torch.cat([values[: prompt_len - 1], log_prob[b, :r], values[-1:]])  # shift by one
        seq_values.append(values)
        prompts.append(torch.ones(prompt_len, dtype=torch.long))
        responses.append(torch.ones(r, dtype=torch.long))
    model_output = {"log_probs": torch.nested.as_nested_tensor(seq_values, layout=torch.jagged)}
    fields = {
        "prompts": torch.nested.as_nested_tensor(prompts, layout=torch.jagged),
        "responses": torch.nested.as_nested_tensor(responses, layout=torch.jagged),
        "response_mask": torch.nested.as_nested_tensor(
            [response_mask[b, : resp_lens[b]].long() for b in range(B)], layout=torch.jagged
        ),
        "old_log_probs": torch.nested.as_nested_tensor(
            [old_log_prob[b, : resp_lens[b]] for b in range(B)], layout=torch.jagged
        ),
        "advantages": torch.nested.as_nested_tensor(
            [advantages[b, : resp_lens[b]] for b in range(B)], layout=torch.jagged
        ),
    }
    fields.update(extra or {})
    data = TensorDict(fields, batch_size=[B])
    defaults = {"dp_size": 1, "batch_num_tokens": int(response_mask.sum()), "global_batch_size": B}
    defaults.update(non_tensor)
    tu.assign_non_tensor(data, **defaults)
    return model_output, data


@pytest.fixture
def actor_config():
    """Factory fixture: actor_config(loss_mode=..., ...) -> ActorConfig."""
    return make_actor_config


@pytest.fixture
def micro_batch():
    """Factory fixture: micro_batch(log_prob, old, adv, mask, **non_tensor) -> (model_output, data)."""
    return make_micro_batch
