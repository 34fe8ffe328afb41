"""Overhead of the G2RL feature pass on verl's FSDP2 engine: time and peak-memory ratios in one run.

Both arms run verl's real ``compute_log_prob`` path (``engine.infer_batch``, forward only, entropy on, as
the v1 trainer's ``_compute_old_log_prob`` asks) on the same engine (our ``FSDPEngineWithFeaturesAndPositiveCount``)
and the same inputs; they differ only by the non-tensor flag ``g2rl_compute_phi``. Reps alternate between
the arms; medians are reported.

Peak memory:
- CPU: the peak of the running sum of every tensor allocation and free made during the call (torch
  profiler with ``profile_memory=True``). Live memory from before the call (weights, inputs) is not
  counted, so the ratio is stricter than a whole-process ratio would be.
- CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats`` (whole process).

Usage:
    python benchmarks/bench_g2rl_features.py                       # CPU, small Qwen3-shaped model
    python benchmarks/bench_g2rl_features.py --device cuda --model-shape qwen3-1.7b --seq-len 4096

Models are random-weight, built from a config (nothing is downloaded). The CUDA mode uses the padded
layout with SDPA attention unless ``--remove-padding`` is given (which needs flash-attention).
Target (issue 3): <= 1.05x time and <= 1.05x peak memory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

SHAPES = {
    # hidden, layers, heads, kv heads, head dim, mlp, vocab
    "small": {
        "hidden_size": 256,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 64,
        "intermediate_size": 768,
        "vocab_size": 32000,
    },
    "medium": {
        "hidden_size": 1024,
        "num_hidden_layers": 8,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "head_dim": 64,
        "intermediate_size": 3072,
        "vocab_size": 32000,
    },
    "qwen3-1.7b": {
        "hidden_size": 2048,
        "num_hidden_layers": 28,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "intermediate_size": 6144,
        "vocab_size": 151936,
    },
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--model-shape", choices=sorted(SHAPES), default="small")
    p.add_argument("--seq-len", type=int, default=256, help="prompt + response tokens per sequence")
    p.add_argument(
        "--response-frac", type=float, default=0.75, help="share of each sequence that is response"
    )
    p.add_argument("--batch", type=int, default=8, help="sequences per compute_log_prob call")
    p.add_argument("--micro-batch", type=int, default=4, help="sequences per micro-batch")
    p.add_argument("--reps", type=int, default=5, help="timed reps per arm (after one warm-up each)")
    p.add_argument("--chunk-tokens", type=int, default=2048, help="algorithm.g2rl.feature_chunk_tokens")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (CPU; default: torch's)")
    p.add_argument(
        "--remove-padding", action="store_true", help="packed layout (needs flash-attention on GPU)"
    )
    return p.parse_args()


def main() -> None:
    args = parse_args()
    if args.device == "cpu":
        os.environ["VERL_PLATFORM"] = "cpu"
    os.environ["VERL_ENGINE_DEVICE"] = "cuda"  # verl registers the FSDP engine for cuda/npu only

    import torch
    from tensordict import TensorDict

    if args.threads:
        torch.set_num_threads(args.threads)

    if args.device == "cpu":
        from g2rl_verl.cpu import platform as cpu_platform

        cpu_platform.register()
    from transformers import Qwen3Config, Qwen3ForCausalLM
    from verl.trainer.config import CheckpointConfig
    from verl.utils import tensordict_utils as tu
    from verl.workers.config import FSDPEngineConfig, FSDPOptimizerConfig, HFModelConfig
    from verl.workers.engine.base import EngineRegistry

    from g2rl_verl.g2rl import engine as g2rl_engine

    g2rl_engine.register()
    dtype = "fp32" if args.device == "cpu" else "bf16"
    attn = "eager" if args.device == "cpu" else ("flash_attention_2" if args.remove_padding else "sdpa")
    shape = SHAPES[args.model_shape]

    print(f"building a random {args.model_shape} model {shape} on {args.device} ...", flush=True)
    torch.manual_seed(0)
    tmp = tempfile.TemporaryDirectory(prefix="g2rl_bench_")  # removed when the script ends
    model_dir = tmp.name
    config = Qwen3Config(tie_word_embeddings=True, max_position_embeddings=max(4096, args.seq_len), **shape)
    model = Qwen3ForCausalLM(config)
    model.save_pretrained(model_dir)
    del model

    world = _process_group(args.device)
    with world:
        engine = EngineRegistry.get_engine_cls("language_model", "fsdp2")(
            HFModelConfig(
                path=model_dir,
                load_tokenizer=False,
                use_remove_padding=args.remove_padding,
                enable_gradient_checkpointing=False,
                override_config={"attn_implementation": attn},
            ),
            FSDPEngineConfig(
                strategy="fsdp2",
                use_torch_compile=False,
                model_dtype=dtype,
                mixed_precision=None
                if args.device == "cuda"
                else {"param_dtype": "fp32", "reduce_dtype": "fp32", "buffer_dtype": "fp32"},
            ),
            FSDPOptimizerConfig(lr=1e-6),
            CheckpointConfig(),
        )
        engine.initialize()
        resp_len = int(args.seq_len * args.response_frac)
        gen = torch.Generator().manual_seed(1)
        ids = [
            torch.randint(0, shape["vocab_size"], (args.seq_len,), generator=gen) for _ in range(args.batch)
        ]

        def batch(with_phi: bool) -> TensorDict:
            nested = lambda ts: torch.nested.as_nested_tensor(ts, layout=torch.jagged)
            masks = [torch.ones(resp_len) for _ in ids]
            data = TensorDict(
                {
                    "input_ids": nested(ids),
                    "position_ids": nested([torch.arange(args.seq_len) for _ in ids]),
                    "response_mask": nested(masks),
                    "loss_mask": nested(masks),
                },
                batch_size=[args.batch],
            )
            tu.assign_non_tensor(
                data,
                use_remove_padding=args.remove_padding,
                use_dynamic_bsz=False,
                micro_batch_size_per_gpu=args.micro_batch,
                use_fused_kernels=False,
                temperature=1.0,
                calculate_entropy=True,
            )
            if with_phi:
                tu.assign_non_tensor(data, g2rl_compute_phi=True, g2rl_feature_chunk_tokens=args.chunk_tokens)
            return data

        def run(with_phi: bool):
            data = batch(with_phi)
            if args.device == "cuda":
                torch.cuda.synchronize()
            start, start_cpu = time.perf_counter(), time.process_time()
            with engine.eval_mode():
                out = engine.infer_batch(data)["model_output"]
            if args.device == "cuda":
                torch.cuda.synchronize()
            return time.perf_counter() - start, time.process_time() - start_cpu, out

        times = {False: [], True: []}
        cpu_times = {
            False: [],
            True: [],
        }  # CPU seconds of this process: steadier than wall time on a busy host
        for with_phi in (False, True):  # warm-up
            run(with_phi)
        for rep in range(args.reps):
            for with_phi in (False, True) if rep % 2 == 0 else (True, False):
                elapsed, elapsed_cpu, out = run(with_phi)
                times[with_phi].append(elapsed)
                cpu_times[with_phi].append(elapsed_cpu)
                assert ("g2rl_phi" in out) == with_phi
            print(
                f"  rep {rep + 1}/{args.reps}: plain {times[False][-1]:.3f} s, "
                f"with features {times[True][-1]:.3f} s",
                flush=True,
            )
        peaks = {with_phi: _peak_bytes(args.device, lambda w=with_phi: run(w)) for with_phi in (False, True)}

    t_plain, t_phi = statistics.median(times[False]), statistics.median(times[True])
    tokens = args.batch * args.seq_len
    print()
    print(
        f"device={args.device} model={args.model_shape} batch={args.batch}x{args.seq_len} tokens "
        f"(response {resp_len}/seq, micro-batch {args.micro_batch}, remove_padding={args.remove_padding}), "
        f"chunk={args.chunk_tokens}, reps={args.reps}, torch threads={torch.get_num_threads()}"
    )
    print(
        f"time  plain {t_plain:.3f} s  with features {t_phi:.3f} s  ratio {t_phi / t_plain:.3f}x "
        f"(median wall; {tokens / t_plain:.0f} tok/s plain)"
    )
    if args.device == "cpu":
        c_plain, c_phi = statistics.median(cpu_times[False]), statistics.median(cpu_times[True])
        print(
            f"cpu   plain {c_plain:.3f} s  with features {c_phi:.3f} s  ratio {c_phi / c_plain:.3f}x "
            "(median process CPU time)"
        )
    what = "peak allocations during the call" if args.device == "cpu" else "max_memory_allocated"
    print(
        f"memory ({what})  plain {peaks[False] / 2**20:.1f} MiB  with features {peaks[True] / 2**20:.1f} MiB  "
        f"ratio {peaks[True] / peaks[False]:.3f}x"
    )


def _process_group(device: str):
    """A single-rank process group (gloo on CPU via our platform helper, nccl on CUDA)."""
    import contextlib
    import socket

    import torch

    if device == "cpu":
        from g2rl_verl.cpu import platform as cpu_platform

        return cpu_platform.single_process_gloo_world()

    @contextlib.contextmanager
    def nccl_world():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        os.environ.update(
            RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
        )
        torch.cuda.set_device(0)
        torch.distributed.init_process_group(backend="nccl", rank=0, world_size=1)
        try:
            yield
        finally:
            torch.distributed.destroy_process_group()

    return nccl_world()


def _peak_bytes(device: str, fn) -> int:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated()
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted(
        (e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"
    )
    running = peak = 0
    for _, nbytes in events:  # allocations are positive, frees negative
        running += nbytes
        peak = max(peak, running)
    return peak


if __name__ == "__main__":
    sys.exit(main())
