"""An HF-transformers rollout backend for verl 0.9.1 (``actor_rollout_ref.rollout.name=hf``).

verl's trainers generate only through an async rollout *server* replica, and verl ships only vLLM,
SGLang and TRT-LLM ones (``verl/workers/rollout/base.py:89-93``, ``verl/workers/rollout/replica.py:388-390``).
None of them runs on a CPU. This module adds a fourth backend built on ``transformers``'
``generate``, which runs on CPU and on GPU (the device comes from torch). It has three parts, the
same split as verl's vLLM backend:

- :class:`HFGenerationServer`: the Ray actor that owns a copy of the policy and serves
  ``async generate(prompt_ids, sampling_params, request_id, ...) -> TokenOutput`` (the call verl's
  ``LLMServerClient.generate`` makes, ``verl/workers/rollout/llm_server.py:150``), plus the control
  methods verl's replica/adapter call (``wake_up``, ``sleep``, ``abort_all_requests``,
  ``resume_generation``, ``clear_kv_cache``, ``set_global_steps``...).
- :class:`HFRolloutReplica` (a ``RolloutReplica``): ``launch_servers()`` starts one server per replica
  next to the hybrid worker, named ``hf_server_<replica>_<node>`` so the adapter can find it.
- :class:`HFServerAdapter` (a ``BaseRollout``): lives inside the hybrid ``ActorRolloutRefWorker``
  (``verl/workers/engine_workers.py:667``). **Weight path**: with the default checkpoint engine
  ``naive``, ``CheckpointEngineManager.update_weights`` (``verl/checkpoint_engine/base.py:518-520``)
  calls ``ActorRolloutRefWorker.update_weights`` (``engine_workers.py:728-825``), which calls
  ``adapter.resume(["weights"])``, then ``adapter.update_weights(<generator of (name, full tensor)>)``
  from ``engine.get_per_tensor_param()``, then ``adapter.resume(["kv_cache"])``. The adapter copies the
  tensors to CPU and ships them to its server through Ray's object store; the server copies them into
  its model under the same lock that generation takes, so a generation never sees half-updated weights.
  Only the ``naive`` backend is supported (the other backends need a ``CheckpointEngineWorker`` in the
  server process).

Registration (``g2rl_verl.cpu.registration``) refers to this module by name only, so verl's plugin
hook never imports it: a Ray actor process that unpickles :class:`HFGenerationServer` imports this
module first, its ``import verl`` runs the plugin, and a plugin importing this half-executed module
would fail ("partially initialized module").

Limits (each raises with the key to change): tensor/data/pipeline parallel size must be 1 (each
hybrid rank is its own replica), LoRA adapters (``peft_config``) and ``wire_format=delta_flush`` are
not supported, and only the hybrid rollout mode exists (no standalone/colocated servers). Concurrent
requests with the same prompt length and sampling parameters (e.g. the n samples of a GRPO group) are
generated as one batch without padding, so positions match the trainer's exactly; this is a correctness
backend for small models, not a fast one.

Sampling: ``temperature`` (0 = greedy), ``top_p``, ``top_k`` (-1 = off), ``repetition_penalty``,
``max_tokens`` / ``max_new_tokens`` (default: ``rollout.response_length``, capped by the prompt+response
budget as verl's vLLM server does), ``stop_token_ids`` (added to the model's EOS ids). With ``logprobs``
set, ``TokenOutput.log_probs`` holds the log-probability of each sampled token under the
temperature-scaled distribution.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from typing import Any

import ray
import torch
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
from verl.utils.config import omega_conf_to_dataclass
from verl.workers.config import HFModelConfig, RolloutConfig
from verl.workers.rollout.base import BaseRollout
from verl.workers.rollout.replica import RolloutMode, RolloutReplica, TokenOutput

logger = logging.getLogger(__name__)

ROLLOUT_NAME = "hf"  # also in g2rl_verl.cpu.registration, which must not import this module


def server_actor_name(replica_rank: int, node_rank: int = 0) -> str:
    return f"{ROLLOUT_NAME}_server_{replica_rank}_{node_rank}"


def _check_single_rank(config: RolloutConfig) -> None:
    sizes = {
        "actor_rollout_ref.rollout.tensor_model_parallel_size": config.tensor_model_parallel_size,
        "actor_rollout_ref.rollout.data_parallel_size": config.data_parallel_size,
        "actor_rollout_ref.rollout.pipeline_model_parallel_size": config.pipeline_model_parallel_size,
    }
    for key, value in sizes.items():
        if value != 1:
            raise ValueError(
                f"rollout.name=hf serves each replica from one process: set {key}=1 (got {value})."
            )


def _as_model_config(model_config: Any) -> HFModelConfig:
    if isinstance(model_config, HFModelConfig):
        return model_config
    return omega_conf_to_dataclass(model_config, dataclass_type=HFModelConfig)


class HFGenerationServer:
    """Token-in/token-out generation server around a ``transformers`` causal LM (a Ray actor body)."""

    BATCH_WINDOW_S = 0.01

    def __init__(self, config: Any, model_config: Any, replica_rank: int = 0, node_rank: int = 0) -> None:
        from transformers import AutoModelForCausalLM

        self.config: RolloutConfig = omega_conf_to_dataclass(config)
        _check_single_rank(self.config)
        self.model_config = _as_model_config(model_config)
        self.replica_rank = replica_rank
        self.node_rank = node_rank
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        dtype = getattr(torch, self.config.dtype) if isinstance(self.config.dtype, str) else self.config.dtype
        self.model = AutoModelForCausalLM.from_pretrained(
            self.model_config.local_path,
            config=self.model_config.hf_config,
            dtype=dtype,
            trust_remote_code=self.model_config.trust_remote_code,
        ).to(self.device)
        self.model.eval()
        self.eos_token_ids = self._model_eos_ids()
        self.pad_token_id = self._pad_id()
        self.global_steps: int | None = None
        self.weight_version = 0  # number of weight updates applied (tests and logs)
        self._lock = asyncio.Lock()  # generation and weight updates never interleave
        self._aborted = False
        self._reject = False
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._pending: list[tuple[list[int], dict[str, Any], int, asyncio.Future]] = []
        self._batcher: asyncio.Task | None = None

    def _model_eos_ids(self) -> list[int]:
        ids: list[int] = []
        for source in (
            self.model_config.generation_config,
            self.model_config.hf_config,
            self.model_config.tokenizer,
        ):
            value = getattr(source, "eos_token_id", None) if source is not None else None
            if value is None:
                continue
            ids.extend(value if isinstance(value, (list, tuple)) else [value])
        if not ids:
            raise ValueError(
                f"model {self.model_config.local_path} has no eos_token_id in its generation config, config "
                "or tokenizer; set one so generation can stop"
            )
        return sorted({int(i) for i in ids})

    def _pad_id(self) -> int:
        tokenizer = self.model_config.tokenizer
        pad = getattr(tokenizer, "pad_token_id", None) if tokenizer is not None else None
        return int(pad) if pad is not None else self.eos_token_ids[0]

    # ----------------------------------------------------------------------------------- generation
    def _max_new_tokens(self, prompt_len: int, sampling_params: dict[str, Any]) -> int:
        budget = self.config.prompt_length + self.config.response_length - prompt_len
        requested = sampling_params.pop("max_tokens", None) or sampling_params.pop("max_new_tokens", None)
        wanted = self.config.response_length if requested is None else int(requested)
        return max(1, min(wanted, self.config.response_length, budget))

    @torch.no_grad()
    def _generate_batch(
        self, prompts: list[list[int]], params: dict[str, Any], limits: list[int]
    ) -> list[TokenOutput]:
        """Generate for prompts of equal length (no padding, so positions match the trainer's exactly)."""
        temperature = float(params.get("temperature", 1.0))
        do_sample = temperature > 0
        top_k = int(params.get("top_k", -1))
        eos = sorted(set(self.eos_token_ids) | set(params.get("stop_token_ids") or []))
        want_logprobs = bool(params.get("logprobs"))
        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": max(limits),
            "do_sample": do_sample,
            "eos_token_id": eos,
            "pad_token_id": self.pad_token_id,
            "repetition_penalty": float(params.get("repetition_penalty", 1.0)),
            "return_dict_in_generate": True,
            "output_logits": want_logprobs,
        }
        if do_sample:
            gen_kwargs.update(
                temperature=temperature,
                top_p=float(params.get("top_p", 1.0)),
                top_k=max(0, top_k),
            )
        else:  # greedy; unset the model's sampling defaults so transformers does not warn
            gen_kwargs.update(temperature=None, top_p=None, top_k=None)
        input_ids = torch.tensor(prompts, dtype=torch.long, device=self.device)  # [batch, prompt_len]
        out = self.model.generate(
            input_ids=input_ids, attention_mask=torch.ones_like(input_ids), **gen_kwargs
        )
        responses = out.sequences[:, input_ids.shape[1] :]  # [batch, new_tokens], pad after each row's EOS
        if want_logprobs:
            logits = torch.stack(out.logits, dim=1).float()  # [batch, new_tokens, vocab]
            scale = temperature if do_sample else 1.0
            token_logprobs = torch.log_softmax(logits / scale, dim=-1).gather(-1, responses[..., None])[
                ..., 0
            ]  # [batch, new_tokens]
        outputs = []
        for row, limit in enumerate(limits):
            tokens = responses[row, :limit].tolist()
            stop = next((i for i, tok in enumerate(tokens) if tok in eos), None)
            if stop is not None:
                tokens = tokens[: stop + 1]  # keep the EOS, as vLLM does
            outputs.append(
                TokenOutput(
                    token_ids=tokens,
                    log_probs=token_logprobs[row, : len(tokens)].tolist() if want_logprobs else None,
                    stop_reason="completed",
                    num_preempted=0,
                    extra_fields={"global_steps": self.global_steps},
                )
            )
        return outputs

    async def generate(
        self,
        prompt_ids: list[int],
        sampling_params: dict[str, Any],
        request_id: str,
        image_data: Any = None,
        video_data: Any = None,
        **kwargs: Any,
    ) -> TokenOutput:
        if image_data is not None or video_data is not None or kwargs.get("audio_data") is not None:
            raise NotImplementedError(
                "rollout.name=hf serves text-only models; use vllm or sglang for multimodal"
            )
        if self._reject:
            raise RuntimeError(f"request {request_id} rejected: the hf rollout server is aborting")
        await self._resumed.wait()
        params = dict(sampling_params)
        limit = self._max_new_tokens(len(prompt_ids), params)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending.append((list(prompt_ids), params, limit, future))
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._run_batches())
        return await future

    async def _run_batches(self) -> None:
        """Serve queued requests in batches of equal prompt length and equal sampling parameters.

        verl's agent loop sends the n samples of a prompt concurrently; batching them makes one
        ``generate`` call per group instead of n.
        """
        while self._pending:
            await asyncio.sleep(self.BATCH_WINDOW_S)  # let the rest of the group arrive
            pending, self._pending = self._pending, []
            groups: dict[tuple, list] = {}
            for request in pending:
                key = (len(request[0]), repr(sorted(request[1].items())))
                groups.setdefault(key, []).append(request)
            for requests in groups.values():
                async with self._lock:
                    if self._aborted:
                        aborted = TokenOutput(
                            token_ids=[],
                            stop_reason="aborted",
                            extra_fields={"global_steps": self.global_steps},
                        )
                        for *_, future in requests:
                            future.set_result(aborted)
                        continue
                    try:
                        outputs = await asyncio.to_thread(
                            self._generate_batch,
                            [r[0] for r in requests],
                            requests[0][1],
                            [r[2] for r in requests],
                        )
                    except Exception as error:  # noqa: BLE001 - re-raised in every waiting request's generate()
                        for *_, future in requests:
                            future.set_exception(error)
                        continue
                for (*_, future), output in zip(requests, outputs):
                    future.set_result(output)

    # ------------------------------------------------------------------------------------- weights
    def _load_weights_sync(self, named_tensors: dict[str, torch.Tensor]) -> int:
        # state_dict, not named_parameters: it keeps tied aliases (lm_head.weight = embed_tokens.weight),
        # which the trainer sends under both names.
        params = self.model.state_dict(keep_vars=True)
        unknown = sorted(set(named_tensors) - set(params))
        if unknown:
            raise KeyError(
                f"hf rollout server: weights {unknown[:5]} (of {len(unknown)}) do not exist in the served "
                f"model {type(self.model).__name__}; trainer and rollout must load the same architecture"
            )
        with torch.no_grad():
            for name, tensor in named_tensors.items():
                target = params[name]
                if target.shape != tensor.shape:
                    raise ValueError(
                        f"hf rollout server: weight {name} has shape {tuple(tensor.shape)}, model has {tuple(target.shape)}"
                    )
                target.copy_(tensor.to(device=target.device, dtype=target.dtype))
        return len(named_tensors)

    async def update_weights(
        self, named_tensors: dict[str, torch.Tensor], global_steps: int | None = None
    ) -> int:
        async with self._lock:
            count = await asyncio.to_thread(self._load_weights_sync, named_tensors)
            self.weight_version += 1
            if global_steps is not None:
                self.global_steps = global_steps
        return count

    async def get_weight_version(self) -> int:
        return self.weight_version

    # ------------------------------------------------------------------------------------- control
    async def wake_up(self, tags: list[str] | None = None) -> None:
        if self.device.type == "cuda":  # give the trainer the GPU memory back between rollouts
            async with self._lock:
                self.model.to(self.device)

    async def sleep(self) -> None:
        if self.device.type == "cuda":
            async with self._lock:
                self.model.to("cpu")
                torch.cuda.empty_cache()

    async def abort_all_requests(self, reject_request: bool = False) -> None:
        # Requests still waiting for the lock return stop_reason="aborted"; a running one finishes.
        self._aborted = True
        self._reject = reject_request
        self._resumed.clear()

    async def resume_generation(self) -> None:
        self._aborted = False
        self._reject = False
        self._resumed.set()

    async def set_global_steps(self, global_steps: int) -> None:
        self.global_steps = global_steps

    async def clear_kv_cache(self) -> None:
        return None  # transformers' generate builds a fresh cache per request

    async def release_kv_cache(self) -> None:
        return None

    async def resume_kv_cache(self) -> None:
        return None

    async def start_profile(self, **kwargs: Any) -> None:
        return None

    async def stop_profile(self) -> None:
        return None


class HFRolloutReplica(RolloutReplica):
    """One HF generation server per replica, placed on the node of its hybrid worker."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _check_single_rank(self.config)

    async def launch_servers(self) -> None:
        if self.rollout_mode != RolloutMode.HYBRID:
            raise NotImplementedError(
                f"rollout.name=hf supports only the hybrid rollout mode (got {self.rollout_mode}); "
                "keep actor_rollout_ref.hybrid_engine=true and trainer.v1.trainer_mode=sync"
            )
        if len(self.workers) != 1:
            raise ValueError(
                f"hf rollout replica {self.replica_rank} expected 1 hybrid worker, got {len(self.workers)}"
            )
        from verl.plugin.platform import get_platform

        worker = self.workers[0]
        node_id, accelerator_ids = await worker.__ray_call__.remote(
            lambda self: (
                ray.get_runtime_context().get_node_id(),
                ray.get_runtime_context().get_accelerator_ids().get(get_platform().ray_resource_name(), []),
            )
        )
        platform = get_platform()
        env_vars = {var: "1" for var in platform.ray_noset_envvars()}
        if accelerator_ids:  # share the worker's GPU, as verl's vLLM server does
            env_vars[platform.visible_devices_envvar()] = ",".join(str(i) for i in accelerator_ids)
        name = server_actor_name(self.replica_rank) + self.name_suffix
        server = (
            ray.remote(HFGenerationServer)
            .options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node_id, soft=False),
                runtime_env={"env_vars": env_vars},
                name=name,
                num_cpus=0,  # the hybrid worker holds this node slot's CPUs
                max_concurrency=self.max_concurrency,
            )
            .remote(config=self.config, model_config=self.model_config, replica_rank=self.replica_rank)
        )
        await server.get_weight_version.remote()  # surface model-loading errors here, not at first generate
        self.servers = [server]
        self._server_handle = server
        self._server_address = name  # verl uses it only as the load balancer's key for this server


class HFServerAdapter(BaseRollout):
    """The hybrid worker's side of the hf backend: forwards weights and sleep/wake to its server."""

    def __init__(self, config: Any, model_config: Any, device_mesh: Any, replica_rank: int = -1) -> None:
        super().__init__(config, model_config, device_mesh)
        _check_single_rank(self.config)
        rank = int(os.environ.get("RANK", "0"))
        self.replica_rank = rank if replica_rank == -1 else replica_rank  # one rank per replica
        self._server: ray.actor.ActorHandle | None = None

    def _server_handle(self) -> ray.actor.ActorHandle:
        # The server starts after the hybrid worker (RolloutReplica.init_hybrid), so look it up lazily.
        if self._server is None:
            self._server = ray.get_actor(server_actor_name(self.replica_rank))
        return self._server

    async def resume(self, tags: list[str]) -> None:
        if self.config.free_cache_engine:
            await self._server_handle().wake_up.remote(tags=tags)

    async def release(self) -> None:
        if self.config.free_cache_engine:
            await self._server_handle().sleep.remote()

    @torch.no_grad()
    async def update_weights(
        self,
        weights: Iterable[tuple[str, torch.Tensor]],
        wire_format: str = "named_tensors",
        peft_config: Any = None,
        global_steps: int | None = None,
        **kwargs: Any,
    ) -> None:
        if wire_format != "named_tensors":
            raise NotImplementedError(
                f"rollout.name=hf receives full tensors only (wire_format={wire_format!r}); "
                "set actor_rollout_ref.rollout.checkpoint_engine.backend=naive"
            )
        if peft_config is not None:
            raise NotImplementedError(
                "rollout.name=hf does not serve LoRA adapters; set actor_rollout_ref.model.lora.merge=true"
            )
        # Consume the whole generator on every rank: FSDP's full_tensor() inside it is a collective.
        named = {
            name: (t.full_tensor() if hasattr(t, "full_tensor") else t).detach().to("cpu", copy=True)
            for name, t in weights
        }
        await self._server_handle().update_weights.remote(named, global_steps=global_steps)

    def generate_sequences(self, prompts: Any) -> Any:
        raise NotImplementedError("rollout.name=hf generates through its server (async mode only)")
