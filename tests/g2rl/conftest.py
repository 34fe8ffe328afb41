"""Shared fixtures for the G2RL tests: tiny random HF causal LMs built offline (no downloads)."""

import pytest
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

VOCAB = 61  # prime, so token chunks rarely align with anything
HIDDEN = 24


def tiny_causal_lm(tied: bool, seed: int = 0, context_free: bool = False) -> torch.nn.Module:
    """Qwen3-shaped (tied lm_head, as in Qwen3-1.7B/4B) or Qwen2-shaped (untied) random model, fp32, eager.

    ``context_free=True`` zeroes every attention output projection, so logits depend on the current token
    only: on CPU, without flash-attention varlen kernels, a packed (remove-padding) forward lets sequences
    attend to each other, and only a context-free model has packed logits that do not depend on how verl
    groups sequences into micro-batches.
    """
    torch.manual_seed(seed)
    common = {
        "vocab_size": VOCAB,
        "hidden_size": HIDDEN,
        "intermediate_size": 48,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "max_position_embeddings": 128,
        "tie_word_embeddings": tied,
        "attn_implementation": "eager",
    }
    if tied:
        model = Qwen3ForCausalLM(Qwen3Config(head_dim=12, **common))
    else:
        model = Qwen2ForCausalLM(Qwen2Config(**common))
    # random init is small; widen the logits so softmaxes are far from uniform
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(8.0)
        if context_free:
            for layer in model.model.layers:
                layer.self_attn.o_proj.weight.zero_()
    return model.eval()


@pytest.fixture(params=[True, False], ids=["tied", "untied"])
def causal_lm(request):
    model = tiny_causal_lm(tied=request.param)
    head = model.get_output_embeddings().weight
    assert (head is model.get_input_embeddings().weight) == request.param
    return model
