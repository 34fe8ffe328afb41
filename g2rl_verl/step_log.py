"""Readable logs for our entry points: one compact console line per step, and the known-harmless
third-party warnings silenced (only when launched through ``python -m g2rl_verl.main``).

Full metrics still go to every configured ``trainer.logger`` backend (file, wandb, ...). When
``trainer.logger`` contains ``console`` and ``g2rl_verl.compact_console=true`` (the default), our task
runner replaces verl's console backend (one ~4,000-character dict per step) with :func:`step_line`.
"""

from __future__ import annotations

import math
import os

# (label, metric key, format) in print order; keys absent from a step are skipped.
STEP_FIELDS = (
    ("reward", "critic/score/mean", ".3f"),
    ("acc", "gppo/positive_frac", ".3f"),
    ("len", "response_length/mean", ".0f"),
    ("pg_loss", "actor/pg_loss", ".4f"),
    ("grad", "actor/grad_norm", ".3f"),
    ("entropy", "actor/entropy", ".3f"),
    ("nll+", "actor/positive_nll", ".3f"),
    ("clip_hi", "actor/gppo_clipfrac_high", ".4f"),
    ("nu", "g2rl/nu_mean", ".3f"),
    ("infra_fail", "reward/infra_failure_rate", ".3f"),
    ("groups_kept", "training/group_filter/kept", ".0f"),
    ("step_s", "timing_s/step", ".1f"),
)

# verl.workers.engine warns once per process (driver and every Ray worker) for each optional engine
# backend that is not installed; none of them is used by g2rl_verl runs.
HARMLESS_WARNINGS = tuple(
    f"ignore:{name} engine is not available" for name in ("torchtitan", "veomni", "automodel", "mindspeed", "megatron")
)


def step_line(step: int, metrics: dict) -> str:
    parts = [f"step:{step}"]
    for label, key, fmt in STEP_FIELDS:
        value = metrics.get(key)
        if isinstance(value, int | float) and math.isfinite(float(value)):
            parts.append(f"{label} {format(float(value), fmt)}")
    return " | ".join(parts)


def silence_harmless_warnings() -> None:
    """Add our filters to PYTHONWARNINGS of this process; Ray workers started from it inherit it."""
    current = [entry for entry in os.environ.get("PYTHONWARNINGS", "").split(",") if entry]
    os.environ["PYTHONWARNINGS"] = ",".join(current + [w for w in HARMLESS_WARNINGS if w not in current])
    import warnings

    for entry in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=entry.split(":", 1)[1])
