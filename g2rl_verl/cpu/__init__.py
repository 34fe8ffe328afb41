"""CPU support for verl 0.9.1: everything needed to run verl's real trainer without an accelerator.

verl 0.9.1 has no CPU platform and no CPU rollout backend (docs/verl-integration.md, "CPU support"). This package adds both
from outside verl, without patching its files:

- :mod:`g2rl_verl.cpu.platform`: a ``cpu`` platform for verl's ``PlatformRegistry`` (device module,
  gloo process group, fake "GPU" Ray resource), plus the environment a CPU run needs.
- :mod:`g2rl_verl.cpu.hf_rollout`: an HF-transformers rollout backend (server adapter + replica), which
  runs on CPU and on GPU.
- :mod:`g2rl_verl.cpu.registration`: ``register()``, called by ``g2rl_verl.plugin``.
- :mod:`g2rl_verl.cpu.environment`: the environment variables a CPU run needs (no verl import).
- :mod:`g2rl_verl.cpu.tiny_model`: a tiny random causal LM + character tokenizer for demos and tests.

This ``__init__`` imports nothing, so light helpers (environment, tiny_model) stay light.

Blockers met while getting ``python -m verl.trainer.main_ppo`` / ``python -m g2rl_verl.main`` (v1 sync
trainer) to train on a CPU-only box, and where each is handled (verl 0.9.1 file:line):

1. No CPU rollout: only vllm/sglang/trtllm servers (``verl/workers/rollout/base.py:89-93``,
   ``replica.py:388-390``) -> :mod:`.hf_rollout` (``rollout.name=hf``).
2. No CPU platform; ``trainer.device=cpu`` rewritten to cuda (``verl/utils/device.py:157-166``,
   ``platform_manager.py:113-117``); NCCL backend string (``verl/utils/distributed.py:89``); int device
   ids passed to ``.to()`` (``verl/utils/fsdp_utils.py:507``); CUDA memory stats
   (``verl/utils/memory_utils.py:47``) -> :mod:`.platform` (``VERL_PLATFORM=cpu``).
3. The platform must be registered before anything resolves it: importing verl's FSDP engine calls
   ``get_device_name()`` at module level (``verl/workers/engine/fsdp/transformer_impl.py:89``) and the
   platform singleton is then fixed for the process. ``g2rl_verl.plugin`` therefore calls
   :func:`g2rl_verl.cpu.registration.register` before importing anything that imports the engine.
4. Plugin re-entrancy: a Ray actor that unpickles a class of ours imports our module first; its
   ``import verl`` runs the plugin, which must not import that half-executed module
   (:mod:`.registration` refers to the rollout backend by name only).
5. Ray resources: pools ask for "GPU" (``verl/single_controller/ray/base.py:240``) -> fake
   ``num_gpus=1`` + ``CUDA_VISIBLE_DEVICES=0`` (:mod:`.environment`); 3 CPUs per worker bundle and 8
   TransferQueue storage actors starve 2 cores -> ``ray_kwargs.ray_init.num_cpus=16``,
   ``transfer_queue.backend.SimpleStorage.num_data_storage_units=1``.
6. FSDP engine registered for cuda/npu only (``transformer_impl.py:1143``) -> ``VERL_ENGINE_DEVICE=cuda``
   (:mod:`.environment`); FSDP1 passes an int ``device_id`` (``transformer_impl.py:437-441``) ->
   ``strategy=fsdp2``; flash-attention default (``verl/workers/config/model.py:185``) -> eager;
   ``use_torch_compile=false``; ``use_remove_padding=false``; no ref model (``use_kl_loss=false``: the
   ref engine's ``CPUOffloadPolicy(pin_memory=True)``, ``transformer_impl.py:459-462``, is untested here).
7. Throughput on 2 shared cores: torch's default thread count oversubscribes (a 64-wide model's
   forward took 0.3-0.5 s with 2 threads under load, 21 ms with 1) -> ``OMP_NUM_THREADS=1``;
   ``data.dataloader_num_workers=0`` (verl defaults to 8 loader processes).
8. transformers 5 forces ``Qwen2Tokenizer`` on ``qwen2`` model dirs, dropping spaces of a custom
   tokenizer -> :mod:`.tiny_model` builds a Qwen3 model.

Items 5-7 are configuration: :func:`g2rl_verl.demo.training_overrides` and
:func:`g2rl_verl.demo.demo_environment` set them, each with its reason.

Each module's docstring lists the verl file:line every piece works around.
"""
