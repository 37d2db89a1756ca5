#!/bin/bash
#SBATCH -J q3next
#SBATCH -p h100
#SBATCH --gpus=1
#SBATCH -t 08:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen3-Next-80B-A3B-Instruct-FP8
# expect-tp: 1

cd $HOME/work/qwen-bench
export MODEL="Qwen/Qwen3-Next-80B-A3B-Instruct-FP8" \
VLLM_WORKER_MULTIPROC_METHOD=spawn \
PYTORCH_CUDA_ALLOC_CONF="expandable_segments:True" \
#VLLM_LOGGING_LEVEL=DEBUG \
uv run vllm serve $MODEL --port 8000 \
  --tensor-parallel-size 1 --max-model-len 32768 --reasoning-parser qwen3 \
  --kv-cache-dtype fp8 \
  --max-num-batched-tokens 8192 --gpu-memory-utilization 0.85
