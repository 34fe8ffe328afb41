"""verl glue: the FSDP engine that returns G2RL features from the old-log-prob pass and counts GPPO's
positive tokens for the actor update (docs/methods.md "G2RL: sequence features", "Positive-sample NLL").

:class:`FSDPEngineWithFeaturesAndPositiveCount` subclasses verl's ``FSDPEngineWithLMHead`` and overrides
``forward_backward_batch`` (counts GPPO's positive tokens per training mini-batch, see
:mod:`g2rl_verl.gppo.positive_nll`) and ``prepare_model_outputs``: it calls the parent, and when the micro-batch carries the non-tensor flag
``g2rl_compute_phi=True`` it also computes Phi [bsz, d] fp32
(:func:`g2rl_verl.g2rl.features.feature_sums_packed`)
from the model's logits (divided by the batch's temperature), the rolled next-token ids and the
response mask, and returns it as the extra output key ``g2rl_phi``. Without the flag nothing extra
runs, so the ref model (same engine class) and non-G2RL runs are unaffected.

Caller contract (our trainer): set ``batch.extra_info["g2rl_compute_phi"] = True``
(optionally ``g2rl_feature_chunk_tokens``, from ``algorithm.g2rl.feature_chunk_tokens``) before
``actor_rollout_wg.compute_log_prob(batch)``; read ``g2rl_phi`` back (a jagged tensor whose rows all
have length d; :func:`g2rl_verl.g2rl.features.dense_features` turns it into [bsz, d]).
Pop the flag from ``batch.extra_info`` right after the call: verl keeps ``extra_info`` on the batch, and
the later ref-log-prob and actor-update calls would otherwise see it (the update raises, see below).

Layouts handled:
- remove-padding (packed ``logits_rmpad`` [total_nnz(/sp) + pad, V]): response rows are
  [seq_end - resp_len - 1, seq_end - 1) of the global packed sequence; the static bucket pad and the
  Ulysses pad sit at its tail. Under Ulysses SP each rank accumulates its own row shard, the
  un-normalised sums are all-reduced (SUM) over the SP group, and the division uses the full L_i;
- padded (``use_remove_padding=False``, logits [bsz, max_seq_len, V]).
The lm-head weight E is the full, unsharded ``get_output_embeddings().weight`` (FSDP2 DTensor ->
``full_tensor()``, once per micro-batch; tied embeddings are the same parameter).

Refused with an error: ``use_fused_kernels=True`` (no logits exist), FSDP1 (``strategy=fsdp``: its flat
sharded parameters need a different gather; untested), calls from a training (non-forward-only) pass.

verl 0.9.1 internals this depends on (pin the version): ``FSDPEngineWithLMHead.prepare_model_outputs``
signature; ``output_args`` keys ``input_ids_rmpad_rolled``, ``temperature_rmpad``, ``temperature``,
``temperature_is_one``, ``pad_size`` (set by ``prepare_model_inputs``); the engine attributes
``module``, ``engine_config.strategy``, ``use_ulysses_sp``, ``ulysses_device_mesh``,
``ulysses_parallel_group``; the micro-batch keys ``input_ids`` (nested), ``response_mask`` (nested,
or padded with ``attention_mask``); ``EngineRegistry._engines`` (private dict, overwritten by
:func:`register` because ``EngineRegistry.register`` refuses existing keys); ``postprocess_batch_func``
unbinding every output key per sample and restoring the dynamic-batch order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.distributed.tensor import DTensor
from verl.utils import tensordict_utils as tu
from verl.workers.engine.base import EngineRegistry
from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead

from g2rl_verl.g2rl.features import feature_sums_packed, normalise_feature_sums, packed_token_seq_index
from g2rl_verl.g2rl.validation import check_fsdp2, check_logits_materialised
from g2rl_verl.gppo.positive_nll import annotate_positive_token_count
from g2rl_verl.names import CHUNK_KEY, PHI_FIELD, PHI_FLAG

DEFAULT_CHUNK_TOKENS = 2048
FEATURE_EPS = 1e-8  # Eq. 8 denominator; only matters for empty responses (Phi = 0 either way)
_BACKENDS = ("fsdp", "fsdp2")


class G2RLFeatureError(RuntimeError):
    """The G2RL feature pass cannot run with this engine setup."""


def response_token_mask(micro_batch, cu_seqlens: torch.Tensor) -> torch.Tensor:
    """[total_nnz] float32 mask over the packed (unpadded) sequence: 1 at rows whose logits predict a
    response token counted by ``response_mask``, 0 elsewhere (prompt, padding, masked tool tokens)."""
    response_mask = micro_batch["response_mask"]
    device = cu_seqlens.device
    if response_mask.is_nested:
        resp_lens = response_mask.offsets().diff().to(device)  # [bsz]
        mask_pad = response_mask.to_padded_tensor(0.0)  # [bsz, max_resp]
    else:
        attention_mask = micro_batch.get("attention_mask", None)
        if attention_mask is None:
            raise G2RLFeatureError(
                "response_mask is padded but the micro-batch has no attention_mask to tell the response "
                "lengths; pass response_mask as a nested tensor (verl's v1 trainer does)"
            )
        mask_pad = response_mask  # [bsz, R]
        resp_lens = attention_mask[:, -response_mask.shape[1] :].sum(dim=1).to(device)  # [bsz]
    mask_pad = mask_pad.to(device=device, dtype=torch.float32)  # [bsz, R]
    seq_lens = cu_seqlens.diff()  # [bsz]
    if bool((resp_lens >= seq_lens).any()):
        raise G2RLFeatureError("a sequence has no prompt token before its response; cannot locate its logits")
    seq = packed_token_seq_index(cu_seqlens)  # [N]
    pos = torch.arange(seq.numel(), device=device) - cu_seqlens[seq]  # [N] position inside its sequence
    k = pos - (seq_lens[seq] - resp_lens[seq] - 1)  # [N] response index predicted by this row
    inside = (k >= 0) & (k < resp_lens[seq])  # [N]
    mask = torch.zeros(seq.numel(), dtype=torch.float32, device=device)  # [N]
    mask[inside] = mask_pad[seq[inside], k[inside]]
    return mask


class FSDPEngineWithFeaturesAndPositiveCount(FSDPEngineWithLMHead):
    """verl's FSDP LM-head engine plus the optional G2RL feature output ``g2rl_phi`` (module docstring).

    It also counts GPPO's positive-response tokens per training mini-batch (``forward_backward_batch``),
    because this is the one engine class our plugin installs and the count must be taken where verl
    takes ``batch_num_tokens``: before the mini-batch is split into micro-batches.
    """

    def forward_backward_batch(self, data, loss_function, forward_only=False):
        if not forward_only:
            annotate_positive_token_count(data, self.get_data_parallel_group())  # no-op without gppo_positive
        return super().forward_backward_batch(data, loss_function, forward_only=forward_only)

    def prepare_model_outputs(self, output, output_args, micro_batch, logits_processor_func):
        wants_phi = bool(tu.get_non_tensor_data(data=micro_batch, key=PHI_FLAG, default=False))
        if wants_phi:
            self._g2rl_check_supported(micro_batch)  # before the parent, which would fail less clearly
        model_output = super().prepare_model_outputs(output, output_args, micro_batch, logits_processor_func)
        if wants_phi:
            model_output[PHI_FIELD] = self._g2rl_features(output, output_args, micro_batch)  # [bsz, d]
        return model_output

    # -- helpers -------------------------------------------------------------------------------

    def _g2rl_check_supported(self, micro_batch) -> None:
        check_logits_materialised(
            bool(tu.get_non_tensor_data(data=micro_batch, key="use_fused_kernels", default=False)), G2RLFeatureError
        )
        check_fsdp2(self.engine_config.strategy, G2RLFeatureError)
        if torch.is_grad_enabled():
            raise G2RLFeatureError(
                f"{PHI_FLAG} is set on a pass with gradients enabled; request features only in the "
                "forward-only old-log-prob pass (compute_log_prob)"
            )

    def _g2rl_lm_head_weight(self, device: torch.device) -> torch.Tensor:
        """E [V, d], unsharded (collective under FSDP2: every rank of the mesh calls it per micro-batch)."""
        head = self.module.get_output_embeddings()
        if head is None:
            raise G2RLFeatureError(f"{type(self.module).__name__} has no output embeddings (lm_head)")
        weight = head.weight
        if isinstance(weight, DTensor):
            if weight.to_local().device != device:  # CPU-offloaded shards: gather on the compute device
                weight = weight.to(device)
            weight = weight.full_tensor()
        return weight.detach()  # [V, d]

    def _g2rl_features(self, output, output_args, micro_batch) -> torch.Tensor:
        chunk_tokens = int(
            tu.get_non_tensor_data(data=micro_batch, key=CHUNK_KEY, default=DEFAULT_CHUNK_TOKENS)
        )
        use_remove_padding = tu.get_non_tensor_data(data=micro_batch, key="use_remove_padding", default=True)
        input_ids = micro_batch["input_ids"]
        cu_seqlens = input_ids.offsets().to(torch.long)  # [bsz + 1]
        n_seq = cu_seqlens.numel() - 1
        logits = output.logits
        if isinstance(logits, DTensor):
            logits = logits.full_tensor()
        cu_seqlens = cu_seqlens.to(logits.device)
        token_mask = response_token_mask(micro_batch, cu_seqlens)  # [N] over the global packed sequence
        token_seq = packed_token_seq_index(cu_seqlens)  # [N]
        # the full L_i, never a per-shard count
        lengths = torch.zeros(n_seq, dtype=torch.float32, device=logits.device).index_add_(
            0, token_seq, token_mask
        )  # [n_seq]
        temperature_is_one = output_args.get("temperature_is_one", False)

        # autocast (bf16 on GPU) is active around prepare_model_outputs: keep the feature maths in fp32
        with torch.autocast(device_type=logits.device.type, enabled=False):
            weight = self._g2rl_lm_head_weight(logits.device)  # [V, d]
            if use_remove_padding:
                logits = logits.squeeze(0)  # [rows, V], rows = (N + pad) / sp
                pad_size = int(output_args["pad_size"])
                token_mask = F.pad(token_mask, (0, pad_size))  # [N + pad]
                token_seq = F.pad(token_seq, (0, pad_size))  # [N + pad]
                rows = logits.shape[0]
                sp_rank = self.ulysses_device_mesh["sp"].get_local_rank() if self.use_ulysses_sp else 0
                token_mask = token_mask[sp_rank * rows : (sp_rank + 1) * rows]  # [rows] this rank's shard
                token_seq = token_seq[sp_rank * rows : (sp_rank + 1) * rows]  # [rows]
                if token_mask.numel() != rows:
                    raise G2RLFeatureError(
                        f"packed logits have {rows} rows on SP rank {sp_rank}, expected a shard of "
                        f"{cu_seqlens[-1].item()} tokens + {pad_size} padding"
                    )
                temperature = 1.0 if temperature_is_one else output_args["temperature_rmpad"]  # [rows]
                sums, _ = feature_sums_packed(
                    logits,
                    weight,
                    output_args["input_ids_rmpad_rolled"],
                    token_seq,
                    token_mask,
                    n_seq,
                    temperature=temperature,
                    chunk_tokens=chunk_tokens,
                )  # [n_seq, d]
                if self.use_ulysses_sp:
                    torch.distributed.all_reduce(sums, group=self.ulysses_parallel_group)  # partials -> full
            else:
                bsz, max_len, vocab = logits.shape
                pos = torch.arange(token_seq.numel(), device=logits.device) - cu_seqlens[token_seq]  # [N]
                flat = token_seq * max_len + pos  # [N] row of each packed token in [bsz * max_len]
                labels = torch.zeros(bsz * max_len, dtype=torch.long, device=logits.device)  # [bsz*max_len]
                labels[flat] = output_args["input_ids_rmpad_rolled"].to(logits.device)
                mask = torch.zeros(bsz * max_len, dtype=torch.float32, device=logits.device)  # [bsz*max_len]
                mask[flat] = token_mask
                rows_seq = torch.arange(bsz, device=logits.device).repeat_interleave(max_len)  # [bsz*max_len]
                temperature = 1.0
                if not temperature_is_one:
                    temperature = output_args["temperature"].to(logits.device).repeat_interleave(max_len)
                sums, _ = feature_sums_packed(
                    logits.reshape(bsz * max_len, vocab),
                    weight,
                    labels,
                    rows_seq,
                    mask,
                    n_seq,
                    temperature=temperature,
                    chunk_tokens=chunk_tokens,
                )  # [n_seq, d]
            return normalise_feature_sums(sums, lengths, FEATURE_EPS)  # [n_seq, d] fp32


def register() -> None:
    """Make verl build :class:`FSDPEngineWithFeaturesAndPositiveCount` for language models under fsdp/fsdp2.

    Overwrites the private ``EngineRegistry._engines["language_model"][backend][device-key]`` entries
    that hold verl's ``FSDPEngineWithLMHead`` (``EngineRegistry.register`` asserts on existing keys).
    Idempotent; raises if an entry holds any other class (another plugin's engine).
    """
    registry = EngineRegistry._engines.get("language_model", {})
    for backend in _BACKENDS:
        entries = registry.get(backend)
        if not entries:
            raise G2RLFeatureError(
                f"verl has no language_model engine for backend {backend!r}; g2rl_verl.g2rl.engine expects "
                "verl 0.9.1's FSDPEngineWithLMHead there"
            )
        for key, engine_cls in list(entries.items()):
            if engine_cls is FSDPEngineWithFeaturesAndPositiveCount:
                continue
            if engine_cls is not FSDPEngineWithLMHead:
                raise G2RLFeatureError(
                    f"EngineRegistry language_model/{backend}/{key} holds {engine_cls.__module__}."
                    f"{engine_cls.__qualname__}, not verl's FSDPEngineWithLMHead; g2rl_verl refuses to replace it"
                )
            entries[key] = FSDPEngineWithFeaturesAndPositiveCount
