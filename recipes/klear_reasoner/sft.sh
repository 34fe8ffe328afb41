#!/usr/bin/env bash
# Klear-Reasoner stage 1: long-CoT SFT of Qwen3-8B-Base with verl's SFT trainer (arXiv 2508.07629 Sec. 3).
# Hyperparameters: config/recipe/klear_sft.yaml (max LR 8e-5, cosine to 4e-5,
# 4 epochs, 32K [paper]; batch, warmup, SP [decision]: the paper does not state them).
#
# Deviations (details: recipes/README.md):
#   [decision] data: the 1.5M-sample SFT set is not released; TRAIN_FILES is whatever long-CoT parquet you
#              build with `python -m data_prep sft-longcot` (same schema, loss on assistant turns only);
#   [decision] batch 128 sequences, 3% warmup, Ulysses SP 4 (not stated in the paper).
# Entry: SFT_ENTRY=ray (default; verl.trainer.sft_trainer_ray, joins the Ray cluster like every other
# recipe) or SFT_ENTRY=torchrun (verl.trainer.sft_trainer on this node; NNODES=1).
#
# Usage: DRY_RUN=1 bash recipes/klear_reasoner/sft.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# ---- launch settings (environment overrides) ---------------------------------------------------------
MODEL_PATH="${MODEL_PATH:-Qwen/Qwen3-8B-Base}"
DATA_DIR="${DATA_DIR:-$HOME/data/g2rl_verl}"
TRAIN_FILES="${TRAIN_FILES:-$DATA_DIR/klear_longcot_sft.parquet}"    # python -m data_prep sft-longcot ...
NNODES="${NNODES:-8}"                                                # [decision] not stated in the paper
GPUS_PER_NODE="${GPUS_PER_NODE:-8}"
CKPT_DIR="${CKPT_DIR:-$HOME/checkpoints/klear_reasoner}"
EXPERIMENT="${EXPERIMENT:-longcot_sft}"
LOGGER="${LOGGER:-[console]}"
SFT_ENTRY="${SFT_ENTRY:-ray}"                                        # ray | torchrun

case "$SFT_ENTRY" in
    ray) ENTRY=(python -m verl.trainer.sft_trainer_ray) ;;
    torchrun) ENTRY=(torchrun --standalone --nnodes=1 "--nproc_per_node=$GPUS_PER_NODE" -m verl.trainer.sft_trainer) ;;
    *) echo "SFT_ENTRY=$SFT_ENTRY: use ray or torchrun" >&2; exit 2 ;;
esac

# shellcheck source=../cluster/launch.sh
source "$HERE/../cluster/launch.sh"
g2rl_launch "${ENTRY[@]}" \
    --config-dir "$HERE/config" +recipe=klear_sft \
    "model.path=$MODEL_PATH" "data.train_files=$TRAIN_FILES" \
    "trainer.nnodes=$NNODES" "trainer.n_gpus_per_node=$GPUS_PER_NODE" \
    "trainer.experiment_name=$EXPERIMENT" "trainer.default_local_dir=$CKPT_DIR/$EXPERIMENT" \
    "trainer.logger=$LOGGER" "$@"
