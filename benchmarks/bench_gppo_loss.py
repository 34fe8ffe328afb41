"""Forward+backward time of `gppo` (and `ce_gppo`, `gppo_only_high`) against verl's `vanilla` loss.

Same inputs, same run, median of repeats; prints the ratio (target <= 1.10x).
    python benchmarks/bench_gppo_loss.py [--device cuda] [--shape 256 8192] [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from verl.trainer.ppo.core_algos import get_policy_loss_fn
from verl.workers.config import ActorConfig

import g2rl_verl.plugin  # noqa: F401
from g2rl_verl.gppo.config import GPPOPolicyLossConfig


def actor_config(loss_mode: str) -> ActorConfig:
    return ActorConfig(
        strategy="fsdp",
        rollout_n=1,
        ppo_micro_batch_size_per_gpu=1,
        clip_ratio_low=0.2,
        clip_ratio_high=0.28,
        clip_ratio_c=10.0,
        loss_agg_mode="token-mean",
        policy_loss=GPPOPolicyLossConfig(loss_mode=loss_mode, gppo_beta1=0.5),
    )


MODES = ("vanilla", "gppo", "gppo_only_high", "ce_gppo")


def one_pass(fn, cfg, inputs, device) -> float:
    old, base, adv, mask = inputs
    log_prob = base.clone().requires_grad_()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    loss, _ = fn(
        old_log_prob=old,
        log_prob=log_prob,
        advantages=adv,
        response_mask=mask,
        loss_agg_mode="token-mean",
        config=cfg,
        rollout_is_weights=None,
    )
    loss.backward()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def time_losses(inputs, device, repeats, warmup=3) -> dict[str, float]:
    """Median seconds per mode; modes interleaved each repeat so machine load hits all alike."""
    fns = {mode: (get_policy_loss_fn(mode), actor_config(mode)) for mode in MODES}
    times = {mode: [] for mode in MODES}
    for i in range(warmup + repeats):
        for mode, (fn, cfg) in fns.items():
            t = one_pass(fn, cfg, inputs, device)
            if i >= warmup:
                times[mode].append(t)
    return {mode: statistics.median(ts) for mode, ts in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--shape", type=int, nargs=2, default=[256, 8192])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    B, T = args.shape
    g = torch.Generator().manual_seed(0)
    old = (torch.randn(B, T, generator=g) * 0.3 - 1).to(args.device)
    base = old + (torch.randn(B, T, generator=g) * 0.5).to(args.device)
    adv = torch.randn(B, 1, generator=g).expand(B, T).contiguous().to(args.device)
    mask = (torch.arange(T)[None] < torch.randint(T // 4, T + 1, (B, 1), generator=g)).to(args.device)
    inputs = (old, base, adv, mask)

    medians = time_losses(inputs, args.device, args.repeats)
    vanilla = medians["vanilla"]
    device_name = (
        torch.cuda.get_device_name() if args.device == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    )
    print(f"device: {device_name}; shape [{B}, {T}]; median of {args.repeats} forward+backward")
    print(f"{'loss':<16}{'median ms':>12}{'ratio vs vanilla':>20}")
    for mode, t in medians.items():
        print(f"{mode:<16}{t * 1e3:>12.2f}{t / vanilla:>20.3f}")


if __name__ == "__main__":
    main()
