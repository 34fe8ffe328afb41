#!/usr/bin/env bash
# G2RL (arXiv 2512.15687) on the MATH training set (7,500 problems), Qwen3-1.7B-Base / Qwen3-4B-Base, and
# the GRPO and entropy-bonus baselines with everything else equal. Hyperparameters:
# config/recipe/g2rl_math.yaml (shared by all three methods) + config/g2rl_size/<SIZE>.yaml (model, 8k /
# 12k responses) + config/g2rl_method/<METHOD>.yaml (the only per-method difference), each value
# labelled [paper] / [inferred] / [decision].
#
# Deviations from the paper (details: recipes/README.md):
#   [decision] ppo_mini_batch_size=2 prompts (32 responses per update; the paper's "1 (effective 32)" was
#              copied from EVOL-RL's 32-rollout setting);
#   [decision] lambda = 0.5 and shaping_mode = eq12 (not stated; sweep lambda with
#              algorithm.g2rl.shaping_lambda=..., try algorithm.g2rl.shaping_mode=prose);
#   [decision] max prompt length 1024 (over-long prompts filtered and counted);
#   [decision] entropy-bonus coefficient 0.001 (not stated; also run actor_rollout_ref.actor.entropy_coeff=0.003);
#   [inferred] 200 training steps, cosine LR with 3% warmup, top_p 1.0, KL type low_var_kl, clip 0.2 / 0.2.
#
# Usage:
#   METHOD=g2rl SIZE=qwen3_1p7b DRY_RUN=1 bash recipes/g2rl/train.sh     # print the composed config, exit
#   METHOD=grpo SIZE=qwen3_4b bash recipes/g2rl/train.sh [hydra overrides ...]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# ---- launch settings (environment overrides) ---------------------------------------------------------
METHOD="${METHOD:-g2rl}"                                             # g2rl | grpo | entropy_bonus
SIZE="${SIZE:-qwen3_1p7b}"                                           # qwen3_1p7b | qwen3_4b
MODEL_PATH="${MODEL_PATH:-}"                                         # default: the hub id in g2rl_size/<SIZE>.yaml
DATA_DIR="${DATA_DIR:-$HOME/data/g2rl_verl}"
TRAIN_FILES="${TRAIN_FILES:-$DATA_DIR/math_train.parquet}"           # python -m data_prep rl-math --prompt-style simplerl ...
VAL_FILES="${VAL_FILES:-$DATA_DIR/aime25.parquet}"                   # AIME25 mean@8 at T 0.8 during training [paper]
NNODES="${NNODES:-1}"                                                # [inferred] 1 node x 8 GPUs
GPUS_PER_NODE="${GPUS_PER_NODE:-8}"
TOTAL_STEPS="${TOTAL_STEPS:-200}"                                    # [inferred]; ~469 = one epoch
CKPT_DIR="${CKPT_DIR:-$HOME/checkpoints/g2rl}"
EXPERIMENT="${EXPERIMENT:-${SIZE}_${METHOD}}"
LOGGER="${LOGGER:-[console]}"

case "$METHOD" in g2rl | grpo | entropy_bonus) ;; *) echo "METHOD=$METHOD: use g2rl, grpo or entropy_bonus" >&2; exit 2 ;; esac
case "$SIZE" in qwen3_1p7b | qwen3_4b) ;; *) echo "SIZE=$SIZE: use qwen3_1p7b or qwen3_4b" >&2; exit 2 ;; esac
MODEL_OVERRIDE=()
[[ -n "$MODEL_PATH" ]] && MODEL_OVERRIDE=("actor_rollout_ref.model.path=$MODEL_PATH")

# shellcheck source=../cluster/launch.sh
source "$HERE/../cluster/launch.sh"
g2rl_launch python -m g2rl_verl.main \
    --config-dir "$HERE/config" +recipe=g2rl_math "g2rl_method=$METHOD" "g2rl_size=$SIZE" \
    "${MODEL_OVERRIDE[@]}" \
    "data.train_files=$TRAIN_FILES" "data.val_files=$VAL_FILES" \
    "trainer.nnodes=$NNODES" "trainer.n_gpus_per_node=$GPUS_PER_NODE" \
    "trainer.total_training_steps=$TOTAL_STEPS" \
    "trainer.experiment_name=$EXPERIMENT" "trainer.default_local_dir=$CKPT_DIR/$EXPERIMENT" \
    "trainer.logger=$LOGGER" \
    "${G2RL_RAY_OVERRIDES[@]}" "$@"
