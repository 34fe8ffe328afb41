#!/usr/bin/env bash
# Cluster smoke run (config/recipe/cpu_smoke.yaml): 2 steps of G2RL + GPPO on a tiny model, CPU nodes.
# Used by tests/cluster (a two-node Ray cluster on one machine, LAUNCHER=ray) and by
# recipes/cluster/test_slurm_local.sh (the Slurm template under a one-machine Slurm). Build the tiny model
# and data first: python tests/cluster/smoke_assets.py <dir>.
#
#   SMOKE_DIR=/shared/smoke LAUNCHER=ray RAY_ADDRESS=http://head:8265 bash recipes/cluster/smoke/train.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# ---- launch settings (environment overrides) ---------------------------------------------------------
SMOKE_DIR="${SMOKE_DIR:?set SMOKE_DIR to the directory written by tests/cluster/smoke_assets.py (shared by all nodes)}"
MODEL_PATH="${MODEL_PATH:-$SMOKE_DIR/model}"
TRAIN_FILES="${TRAIN_FILES:-$SMOKE_DIR/train.parquet}"
VAL_FILES="${VAL_FILES:-$SMOKE_DIR/val.parquet}"
CKPT_DIR="${CKPT_DIR:-$SMOKE_DIR/checkpoints}"
NNODES="${NNODES:-1}"                    # nodes that hold training workers (the "GPU" nodes)
GPUS_PER_NODE="${GPUS_PER_NODE:-1}"      # fake GPUs per node on the CPU platform
TOTAL_STEPS="${TOTAL_STEPS:-2}"

# shellcheck source=../launch.sh
source "$HERE/../launch.sh"
g2rl_launch python -m g2rl_verl.main \
    --config-dir "$HERE/config" +recipe=cpu_smoke \
    "actor_rollout_ref.model.path=$MODEL_PATH" \
    "data.train_files=$TRAIN_FILES" "data.val_files=$VAL_FILES" \
    "trainer.nnodes=$NNODES" "trainer.n_gpus_per_node=$GPUS_PER_NODE" \
    "trainer.total_training_steps=$TOTAL_STEPS" \
    "trainer.default_local_dir=$CKPT_DIR" \
    "hydra.run.dir=$SMOKE_DIR/hydra" \
    "${G2RL_RAY_OVERRIDES[@]}" "$@"
