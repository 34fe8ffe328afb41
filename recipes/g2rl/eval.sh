#!/usr/bin/env bash
# G2RL evaluation: MATH500, AMC, AIME24, AIME25 (and GPQA-Diamond /
# MMLU-Pro for 4B when their RL-schema files are given): n = 32 samples [decision], temperature 0.8
# [paper], top_p 0.95 [inferred: EVOL-RL evaluation code], max new tokens = the training response length
# (8192 for 1.7B, 12288 for 4B) [decision], SimpleRL system prompt + problem [decision]. Reported: pass@1
# (= avg@32), maj@16 (1,000 seeded 16-subsets without replacement, exact-expectation ties) and unbiased
# pass@16 [paper metrics; estimators decision], with verl-style bootstrap best@k / maj@k alongside.
#
# Deviations (details: recipes/README.md):
#   [decision] AMC: the 40-problem AMC23 file by default; the paper's set is probably the 83-problem AMC
#              2022+2023 one (inferred) - pass AMC_FILE=<rl-schema file> AMC_NAME=amc to use it;
#   [decision] MMLU-Pro with n = 32 like everything else (set N_MMLU=1 for the cheaper n = 1).
# Variables at the top are the evaluation hyperparameters; DRY_RUN=1 prints the commands and exits.
#
# Usage: SIZE=qwen3_4b MODEL_PATH=/ckpt/hf DRY_RUN=1 bash recipes/g2rl/eval.sh
set -euo pipefail

# ---- evaluation settings -----------------------------------------------------------------------------
SIZE="${SIZE:-qwen3_1p7b}"                   # qwen3_1p7b | qwen3_4b
MODEL_PATH="${MODEL_PATH:?set MODEL_PATH to the trained checkpoint (HF format)}"
N="${N:-32}"                                 # samples per problem [decision]
N_MMLU="${N_MMLU:-$N}"
TEMPERATURE=0.8                              # [paper]
TOP_P=0.95                                   # [inferred]
TOP_K=-1                                     # [inferred]
SEED=0                                       # [decision]; reported in the results
MAJ_K=16                                     # maj@16 [paper]
MAX_ERROR_RATE="${MAX_ERROR_RATE:-0.01}"
BENCH_DIR="${BENCH_DIR:-/work/shared/data}"  # math500.json, amc23.jsonl, aime24.jsonl, aime25.jsonl
AMC_FILE="${AMC_FILE:-$BENCH_DIR/amc23.jsonl}"
AMC_NAME="${AMC_NAME:-amc23}"
GPQA_FILE="${GPQA_FILE:-}"                   # RL-schema GPQA-Diamond (data_source gpqa_diamond)
MMLU_PRO_FILE="${MMLU_PRO_FILE:-}"           # RL-schema MMLU-Pro test split (data_source mmlu_pro)
OUT_DIR="${OUT_DIR:-$HOME/eval/g2rl/$(basename "$MODEL_PATH")}"

case "$SIZE" in
    qwen3_1p7b) MAX_TOKENS=8192; PAPER_ROW="Qwen3-1.7B-Base" ;;
    qwen3_4b) MAX_TOKENS=12288; PAPER_ROW="Qwen3-4B-Base" ;;
    *) echo "SIZE=$SIZE: use qwen3_1p7b or qwen3_4b" >&2; exit 2 ;;
esac

COMMON=(--model "$MODEL_PATH" --out-dir "$OUT_DIR" --temperature "$TEMPERATURE" --top-p "$TOP_P" --top-k "$TOP_K"
        --seed "$SEED" --max-tokens "$MAX_TOKENS" --simplerl-prompt)
gen() { echo "python -m g2rl_verl.eval generate $(printf '%q ' "$@" "${COMMON[@]}")"; }
COMMANDS=(
    "$(gen --benchmark math500 --data "$BENCH_DIR/math500.json" --n "$N")"
    "$(gen --benchmark "$AMC_NAME" --data "$AMC_FILE" --n "$N")"
    "$(gen --benchmark aime24 --data "$BENCH_DIR/aime24.jsonl" --n "$N")"
    "$(gen --benchmark aime25 --data "$BENCH_DIR/aime25.jsonl" --n "$N")"
)
[[ -n "$GPQA_FILE" ]] && COMMANDS+=("$(gen --benchmark gpqa_diamond --format rl --data "$GPQA_FILE" --n "$N")")
[[ -n "$MMLU_PRO_FILE" ]] && COMMANDS+=("$(gen --benchmark mmlu_pro --format rl --data "$MMLU_PRO_FILE" --n "$N_MMLU")")
COMMANDS+=("python -m g2rl_verl.eval score --in-dir $(printf '%q' "$OUT_DIR") --reward-kwarg profile=g2rl --reward-kwarg think_mode=none --maj-k $MAJ_K --seed $SEED --paper-model $(printf '%q' "$PAPER_ROW") --max-error-rate $MAX_ERROR_RATE")

if [[ "${DRY_RUN:-0}" == "1" ]]; then
    echo "# DRY_RUN=1: G2RL evaluation ($SIZE), output $OUT_DIR"
    printf '%s\n' "${COMMANDS[@]}"
    exit 0
fi
for cmd in "${COMMANDS[@]}"; do
    echo "# $cmd" >&2
    eval "$cmd"
done
