#!/bin/bash
#SBATCH --gres=gpu:a100:4
#SBATCH --time=08:00:00

VENV=/projects/llm/envs/vllm-0.8.5
VLLM_BIN=$VENV/bin/vllm
MODEL_DIR=/projects/llm/models/Qwen2.5-32B-Instruct

$VLLM_BIN serve $MODEL_DIR \
    --tensor-parallel-size 4 \
    --max-model-len 16384
