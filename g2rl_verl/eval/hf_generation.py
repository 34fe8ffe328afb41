"""A ``transformers`` generation engine for ``python -m g2rl_verl.eval generate --backend hf`` (CPU or GPU).

vLLM needs a GPU; this engine runs anywhere torch does, which is what the CPU mini-reproduction and the
demo evaluate with. It implements the ``Engine`` protocol of :mod:`g2rl_verl.eval.generation`: one
completion per ``(messages, seed)`` request.

Seeds: each request draws its uniforms from its own ``torch.Generator`` seeded with the request's seed
(inverse-CDF sampling), so a sample does not depend on which other requests share its batch (the property resuming relies on), as with
vLLM's per-request seeds. Requests are batched with left padding; positions come from the attention
mask, so padding does not shift a sequence.

Sampling: ``temperature`` (0 = greedy), ``top_k`` (-1 = off), ``top_p``, ``repetition_penalty`` (the
CTRL rule ``transformers`` uses: seen tokens' positive logits divided, negative ones multiplied), and
``max_tokens``, capped by the model's ``max_position_embeddings``. Generation stops at the tokenizer's
or generation config's EOS ids; ``finish_reason`` is ``"stop"`` then, ``"length"`` when the budget ran
out. ``rope_scaling`` and ``max_model_len`` are vLLM engine options and are refused here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from g2rl_verl.eval.generation import Completion, SamplingConfig


class HFEngine:
    """Batched sampling with a ``transformers`` causal LM loaded from a local directory."""

    def __init__(
        self, cfg: SamplingConfig, device: str = "cpu", batch_size: int = 64, dtype: str = "float32"
    ):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        for name in ("rope_scaling", "max_model_len"):
            if getattr(cfg, name) is not None:
                raise ValueError(
                    f"--backend hf does not support --{name.replace('_', '-')} (a vLLM engine option)"
                )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not Path(cfg.model).is_dir():
            raise FileNotFoundError(f"--backend hf loads a local model directory; {cfg.model!r} is not one")
        self._cfg = cfg
        self._device = torch.device(device)
        self._batch_size = batch_size
        self._tokenizer = AutoTokenizer.from_pretrained(cfg.model, revision=cfg.model_revision)
        self._model = AutoModelForCausalLM.from_pretrained(
            cfg.model, revision=cfg.model_revision, dtype=getattr(torch, dtype)
        ).to(self._device)
        self._model.eval()
        eos = set()
        for source in (self._tokenizer, self._model.generation_config, self._model.config):
            value = getattr(source, "eos_token_id", None)
            if value is not None:
                eos.update(value if isinstance(value, list | tuple) else [value])
        if not eos:
            raise ValueError(f"model {cfg.model} defines no eos_token_id; generation could not stop")
        self._eos = torch.tensor(sorted(eos), device=self._device)
        pad = self._tokenizer.pad_token_id
        self._pad = int(pad if pad is not None else min(eos))
        limit = getattr(self._model.config, "max_position_embeddings", None)
        self._max_positions = int(limit) if limit else None

    def _prompt_ids(self, messages: Sequence[dict[str, str]]) -> list[int]:
        kwargs: dict[str, Any] = {}
        if self._cfg.enable_thinking is not None:
            kwargs["enable_thinking"] = self._cfg.enable_thinking
        ids = self._tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, tokenize=True, return_dict=False, **kwargs
        )
        if isinstance(ids, dict) or hasattr(ids, "keys"):  # some tokenizers return a BatchEncoding
            ids = ids["input_ids"]
        return list(ids)

    def generate(self, requests: Sequence[tuple[tuple[dict[str, str], ...], int]]) -> list[Completion]:
        prompts = [self._prompt_ids(messages) for messages, _ in requests]
        seeds = [seed for _, seed in requests]
        out: list[Completion] = []
        for start in range(0, len(requests), self._batch_size):
            out += self._generate_batch(
                prompts[start : start + self._batch_size], seeds[start : start + self._batch_size]
            )
        return out

    def _budget(self, longest_prompt: int) -> int:
        budget = self._cfg.max_tokens
        if self._max_positions is not None:
            budget = min(budget, self._max_positions - longest_prompt)
        if budget < 1:
            raise ValueError(
                f"a prompt of {longest_prompt} tokens leaves no room to generate within the model's "
                f"{self._max_positions} positions"
            )
        return budget

    def _next_token_logits(self, logits: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
        """Repetition penalty, temperature, top-k and top-p applied to last-position logits [batch, vocab]."""
        cfg = self._cfg
        logits = logits.float()
        if cfg.repetition_penalty != 1.0:
            picked = logits.gather(1, seen)
            picked = torch.where(picked > 0, picked / cfg.repetition_penalty, picked * cfg.repetition_penalty)
            logits = logits.scatter(1, seen, picked)
        if cfg.temperature == 0:
            return logits
        logits = logits / cfg.temperature
        if cfg.top_k > 0 and cfg.top_k < logits.shape[-1]:
            kth = torch.topk(logits, cfg.top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if cfg.top_p < 1.0:
            sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
            cumulative = sorted_logits.softmax(-1).cumsum(-1)
            drop = cumulative - sorted_logits.softmax(-1) >= cfg.top_p  # keep the token that crosses top_p
            logits = logits.scatter(1, order, sorted_logits.masked_fill(drop, float("-inf")))
        return logits

    @torch.no_grad()
    def _generate_batch(self, prompts: list[list[int]], seeds: list[int]) -> list[Completion]:
        batch, width = len(prompts), max(len(p) for p in prompts)
        budget = self._budget(width)
        input_ids = torch.full((batch, width), self._pad, dtype=torch.long)
        mask = torch.zeros((batch, width), dtype=torch.long)
        for row, prompt in enumerate(prompts):  # left padding
            input_ids[row, width - len(prompt) :] = torch.tensor(prompt)
            mask[row, width - len(prompt) :] = 1
        input_ids, mask = input_ids.to(self._device), mask.to(self._device)
        # one uniform per (row, step) from the row's own generator: inverse-CDF sampling below is then
        # batched, yet row r's sample depends only on its seed and its own logits
        uniforms = torch.stack(
            [
                torch.rand(budget, generator=torch.Generator().manual_seed(int(s)), dtype=torch.float64)
                for s in seeds
            ]
        ).to(self._device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        seen = input_ids
        generated = torch.empty((batch, 0), dtype=torch.long, device=self._device)
        done = torch.zeros(batch, dtype=torch.bool, device=self._device)
        past = None
        step_ids, step_positions = input_ids, positions
        for step in range(budget):
            outputs = self._model(
                input_ids=step_ids,
                attention_mask=mask,
                position_ids=step_positions,
                past_key_values=past,
                use_cache=True,
            )
            past = outputs.past_key_values
            logits = self._next_token_logits(outputs.logits[:, -1, :], seen)
            if self._cfg.temperature == 0:
                token = logits.argmax(-1)
            else:
                cdf = logits.double().softmax(-1).cumsum(-1)
                token = (
                    (cdf < uniforms[:, step : step + 1] * cdf[:, -1:]).sum(-1).clamp(max=cdf.shape[-1] - 1)
                )
            token = torch.where(done, torch.full_like(token, self._pad), token)
            generated = torch.cat([generated, token[:, None]], dim=1)
            seen = torch.cat([seen, token[:, None]], dim=1)
            done |= torch.isin(token, self._eos)
            if bool(done.all()):
                break
            step_ids = token[:, None]
            step_positions = step_positions[:, -1:] + 1
            mask = torch.cat([mask, torch.ones((batch, 1), dtype=mask.dtype, device=self._device)], dim=1)
        results = []
        for row in range(batch):
            tokens = generated[row].tolist()
            stop = next((i for i, t in enumerate(tokens) if t in set(self._eos.tolist())), None)
            kept = tokens if stop is None else tokens[:stop]
            results.append(
                Completion(
                    text=self._tokenizer.decode(kept, skip_special_tokens=True),
                    finish_reason="length" if stop is None else "stop",
                    prompt_tokens=len(prompts[row]),
                    completion_tokens=len(kept) + (0 if stop is None else 1),
                )
            )
        return results
