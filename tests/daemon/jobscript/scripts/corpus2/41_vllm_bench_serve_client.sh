#!/bin/bash
#SBATCH --job-name=bench-client
#SBATCH --cpus-per-task=8
#SBATCH --time=02:00:00
# expect-launch: no

MODEL_NAME="Qwen/Qwen3-30B-A3B-Thinking-2507-FP8"
HOST=gpu-node-12
PORT=8006

vllm bench serve \
    --model $MODEL_NAME \
    --host $HOST \
    --port $PORT \
    --dataset-name random \
    --random-input-len 128 \
    --random-output-len 128 \
    --num-prompts 512
