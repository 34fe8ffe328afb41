#!/usr/bin/env bash
# CE-GPPO (arXiv 2509.20712) on KlearReasoner-MathSub-30K from DeepSeek-R1-Distill-Qwen-1.5B / -7B.
# Reproduces the Kwai-Klear/CE-GPPO scripts: general-beta loss with beta1 = 0.5 (1.5B)
# or 0.75 (7B), beta2 = 1, eps 0.2 / 0.2, c = 10, 16K training responses. Hyperparameters:
# config/recipe/ce_gppo_1p5b.yaml / ce_gppo_7b.yaml (inheriting the Klear math stage).
#
# Deviations (details: recipes/README.md):
#   [decision] validation runs at the training length (16K): verl 0.9.1 has no separate validation
#              response length, while the 7B reference validated at 32K; evaluate 32K with eval.sh;
#   [decision] reward think_mode=none still cuts at the last </think> when one is present (the reference
#              applies no think handling at all);
#   [decision] global token-mean aggregation.
#
# Usage: SIZE=7b DRY_RUN=1 bash recipes/klear_reasoner/ce_gppo.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# ---- launch settings (environment overrides) ---------------------------------------------------------
SIZE="${SIZE:-1p5b}"                                                 # 1p5b | 7b
DATA_DIR="${DATA_DIR:-$HOME/data/g2rl_verl}"
TRAIN_FILES="${TRAIN_FILES:-$DATA_DIR/klear_math_sub30k.parquet}"
VAL_FILES="${VAL_FILES:-[$DATA_DIR/aime24_x32.parquet,$DATA_DIR/aime25_x32.parquet]}"
NNODES="${NNODES:-16}"                                               # reference: 16 nodes x 8 GPUs [inferred]
GPUS_PER_NODE="${GPUS_PER_NODE:-8}"
CKPT_DIR="${CKPT_DIR:-$HOME/checkpoints/ce_gppo}"
EXPERIMENT="${EXPERIMENT:-ce_gppo_${SIZE}}"
LOGGER="${LOGGER:-[console]}"

case "$SIZE" in
    1p5b) RECIPE_NAME=ce_gppo_1p5b; MODEL_PATH="${MODEL_PATH:-deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B}" ;;
    7b) RECIPE_NAME=ce_gppo_7b; MODEL_PATH="${MODEL_PATH:-deepseek-ai/DeepSeek-R1-Distill-Qwen-7B}" ;;
    *) echo "SIZE=$SIZE: use 1p5b or 7b" >&2; exit 2 ;;
esac

# shellcheck source=../cluster/launch.sh
source "$HERE/../cluster/launch.sh"
g2rl_launch python -m g2rl_verl.main \
    --config-dir "$HERE/config" "+recipe=$RECIPE_NAME" \
    "actor_rollout_ref.model.path=$MODEL_PATH" \
    "data.train_files=$TRAIN_FILES" "data.val_files=$VAL_FILES" \
    "trainer.nnodes=$NNODES" "trainer.n_gpus_per_node=$GPUS_PER_NODE" \
    "trainer.experiment_name=$EXPERIMENT" "trainer.default_local_dir=$CKPT_DIR/$EXPERIMENT" \
    "trainer.logger=$LOGGER" \
    "${G2RL_RAY_OVERRIDES[@]}" "$@"
