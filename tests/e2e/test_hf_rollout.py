"""Tests of the HF rollout backend's server and registration (in-process; the Ray path runs in the demo)."""

import asyncio
import copy

import pytest
import torch
from verl.workers.config import HFModelConfig, RolloutConfig
from verl.workers.rollout.base import get_rollout_class
from verl.workers.rollout.replica import RolloutReplicaRegistry

from g2rl_verl.cpu import hf_rollout, registration

RESPONSE_LENGTH = 12


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    config = RolloutConfig(
        name="hf",
        prompt_length=32,
        response_length=RESPONSE_LENGTH,
        dtype="float32",
        tensor_model_parallel_size=1,
    )
    model_config = HFModelConfig(path=str(tiny_model_dir), override_config={"attn_implementation": "eager"})
    return hf_rollout.HFGenerationServer(config, model_config)


def _prompt(server, text):
    return server.model_config.tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True
    )["input_ids"]


def _greedy(server, prompt_ids):
    return asyncio.run(server.generate(prompt_ids, {"temperature": 0, "logprobs": True}, request_id="t"))


def test_register_makes_hf_resolvable_and_is_idempotent():
    registration.register_hf_rollout()
    registration.register_hf_rollout()
    assert get_rollout_class("hf", "async") is hf_rollout.HFServerAdapter
    assert RolloutReplicaRegistry.get("hf") is hf_rollout.HFRolloutReplica


def test_greedy_generation_matches_a_manual_argmax_loop(server):
    prompt = _prompt(server, "12+7=")
    out = _greedy(server, prompt)
    assert 1 <= len(out.token_ids) <= RESPONSE_LENGTH
    # Independent expectation: argmax decoding with a plain forward pass per token.
    assert out.token_ids == _manual_greedy(server.model, prompt, len(out.token_ids), server.eos_token_ids)
    assert len(out.log_probs) == len(out.token_ids) and all(lp <= 0 for lp in out.log_probs)


def test_concurrent_group_is_batched_and_respects_max_tokens(server):
    prompt = _prompt(server, "3*3=")

    async def group():
        return await asyncio.gather(
            *[
                server.generate(
                    prompt, {"temperature": 1.0, "top_k": -1, "top_p": 1.0, "max_tokens": 5}, f"r{i}"
                )
                for i in range(4)
            ]
        )

    outs = asyncio.run(group())
    assert all(1 <= len(o.token_ids) <= 5 for o in outs)


def _manual_greedy(model, prompt, steps, eos_ids):
    ids = torch.tensor([prompt])
    tokens = []
    with torch.no_grad():
        for _ in range(steps):
            next_id = int(model(ids).logits[0, -1].argmax())
            tokens.append(next_id)
            ids = torch.cat([ids, torch.tensor([[next_id]])], dim=1)
            if next_id in eos_ids:
                break
    return tokens


def test_weight_update_changes_generation_and_unknown_names_fail(server):
    prompt = _prompt(server, "5+5=")
    before = _greedy(server, prompt).token_ids
    version = server.weight_version
    # New weights: the served ones plus large noise, applied through the server's update path.
    generator = torch.Generator().manual_seed(1)
    new_weights = {
        name: param.detach() + torch.randn(param.shape, generator=generator)
        for name, param in server.model.named_parameters()
    }
    reference = copy.deepcopy(server.model)
    reference.load_state_dict(new_weights, strict=False)
    count = asyncio.run(server.update_weights(new_weights, global_steps=3))
    assert count == len(new_weights) and server.weight_version == version + 1
    after = _greedy(server, prompt)
    assert after.token_ids != before
    assert after.token_ids == _manual_greedy(reference, prompt, len(after.token_ids), server.eos_token_ids)
    assert after.extra_fields["global_steps"] == 3
    with pytest.raises(KeyError, match="do not exist"):
        asyncio.run(server.update_weights({"not.a.weight": torch.zeros(1)}))
