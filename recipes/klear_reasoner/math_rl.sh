#!/usr/bin/env bash
# Klear-Reasoner-8B stage 2: math RL with GPPO (arXiv 2508.07629 Sec. 4.1; reference script
# recipe/dapo/perf_run_dapo_ours_math.sh). Paper hyperparameters live in ONE place,
# config/recipe/klear_math_gppo.yaml, each labelled [paper] / [inferred] / [decision]; this script only
# sets paths, cluster size and the variant.
#
# Deviations from the paper (details: recipes/README.md, "How this differs from the paper"):
#   [decision] data: the released KlearReasoner-MathSub-30K (about a third of the unreleased 88K set);
#   [decision] start: the released Klear-Reasoner-8B-SFT checkpoint (our SFT stage cannot use the
#              unreleased 1.5M-sample SFT set);
#   [decision] loss aggregation: verl's global token-mean, not the reference's per-micro-batch mean;
#   [decision] reward: our `klear` profile (math-verify 0.9.0, strict \boxed extraction) instead of the
#              reference's Skywork-style routine on math-verify 0.7.0;
#   [inferred] everything the paper does not state (warmup, weight decay, filter, lengths, epochs).
# Variants: VARIANT=gppo (default) | only_high (gppo_only_high loss, config klear_math_gppo_only_high.yaml).
#
# Usage:
#   DRY_RUN=1 bash recipes/klear_reasoner/math_rl.sh                 # print the composed config, exit
#   bash recipes/klear_reasoner/math_rl.sh [hydra overrides ...]     # run (LAUNCHER=local|ray, see cluster/)
#   RECIPE=recipes/klear_reasoner/math_rl.sh sbatch --nodes=32 recipes/cluster/slurm_ray.sbatch
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# ---- launch settings (environment overrides) ---------------------------------------------------------
VARIANT="${VARIANT:-gppo}"                                           # gppo | only_high
MODEL_PATH="${MODEL_PATH:-Kwai-Klear/Klear-Reasoner-8B-SFT}"         # released SFT checkpoint (local dir or hub id)
DATA_DIR="${DATA_DIR:-$HOME/data/g2rl_verl}"
TRAIN_FILES="${TRAIN_FILES:-$DATA_DIR/klear_math_sub30k.parquet}"    # python -m data_prep rl-math ...
VAL_FILES="${VAL_FILES:-[$DATA_DIR/aime24_x32.parquet,$DATA_DIR/aime25_x32.parquet]}"  # data_prep eval-sets --repeat 32
NNODES="${NNODES:-32}"                                               # reference: 32 nodes x 8 GPUs [inferred]
GPUS_PER_NODE="${GPUS_PER_NODE:-8}"
CKPT_DIR="${CKPT_DIR:-$HOME/checkpoints/klear_reasoner}"
EXPERIMENT="${EXPERIMENT:-math_rl_${VARIANT}}"
LOGGER="${LOGGER:-[console]}"                                        # e.g. [console,wandb]

case "$VARIANT" in
    gppo) RECIPE_NAME=klear_math_gppo ;;
    only_high) RECIPE_NAME=klear_math_gppo_only_high ;;
    *) echo "VARIANT=$VARIANT: use gppo or only_high" >&2; exit 2 ;;
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
