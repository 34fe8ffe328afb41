"""A tiny randomly initialised causal LM and a character-level tokenizer, built offline in about a second.

Used by the demo and the end-to-end tests: no weights or tokenizers can be downloaded here, and a real
model would not fit a 2-core CI box. The tokenizer splits text into single characters (so any string
over its alphabet round-trips exactly), adds a minimal chat template, and pads on the left as verl's
rollout expects. The model is a Qwen3 decoder (eager attention, tied embeddings) small enough for
verl's FSDP2 engine and the HF rollout server to run a few training steps on CPU in seconds.
Qwen3 rather than Qwen2: transformers 5 forces ``Qwen2Tokenizer`` (a byte-level BPE pre-tokenizer that
drops our spaces) onto any directory whose config says ``qwen2``
(``MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS`` in ``transformers/models/auto/tokenization_auto.py``),
whereas for ``qwen3`` it honours the saved tokenizer.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
USER, ASSISTANT = "<|user|>", "<|assistant|>"
SPECIAL_TOKENS = (PAD, EOS, UNK, USER, ASSISTANT)
# Printable ASCII minus form feeds etc.: enough for math prompts, boxed answers and short Python.
ALPHABET = tuple(dict.fromkeys(string.digits + string.ascii_letters + string.punctuation + " \n"))

# role header, content, end marker; an assistant header when a generation prompt is requested
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}" + USER + "{% else %}" + ASSISTANT + "{% endif %}"
    "{{ message['content'] }}" + EOS + "{% endfor %}"
    "{% if add_generation_prompt %}" + ASSISTANT + "{% endif %}"
)


@dataclass(frozen=True)
class TinyModelSpec:
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    num_key_value_heads: int = 1
    max_position_embeddings: int = 512
    seed: int = 0


def build_char_tokenizer(alphabet: str | tuple[str, ...] = ALPHABET, extra_tokens: tuple[str, ...] = ()):
    """A fast tokenizer over single characters of ``alphabet`` plus whole-string ``extra_tokens``.

    ``extra_tokens`` are ordinary (non-special) tokens matched before the per-character split, so they
    survive ``decode(skip_special_tokens=True)``, which is how verl hands responses to reward functions.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = tuple(dict.fromkeys(alphabet))
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + chars + tuple(extra_tokens))}
    if len(vocab) != len(SPECIAL_TOKENS) + len(chars) + len(extra_tokens):
        raise ValueError("extra_tokens repeat a character or a special token of the tokenizer")
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # one token per char
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=PAD,
        eos_token=EOS,
        unk_token=UNK,
        additional_special_tokens=[USER, ASSISTANT],
        padding_side="left",
    )
    if extra_tokens:
        tokenizer.add_tokens([AddedToken(t, normalized=False, special=False) for t in extra_tokens])
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_tiny_model(
    output_dir: str | Path,
    spec: TinyModelSpec = TinyModelSpec(),
    alphabet: str | tuple[str, ...] = ALPHABET,
    extra_tokens: tuple[str, ...] = (),
) -> Path:
    """Write a random tiny Qwen3 causal LM plus its tokenizer to ``output_dir``; return the directory."""
    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    output_dir = Path(output_dir)
    tokenizer = build_char_tokenizer(alphabet, extra_tokens)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        head_dim=spec.hidden_size // spec.num_attention_heads,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        attn_implementation="eager",
        torch_dtype="float32",
    )
    torch.manual_seed(spec.seed)
    model = Qwen3ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.eos_token_id,
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return output_dir
