#!/bin/bash
#SBATCH --gres=gpu:l40s:1
#SBATCH --time=06:00:00

docker run --rm --gpus all --ipc=host -p 8000:8000 \
  -v ~/.cache/huggingface:/root/.cache/huggingface \
  vllm/vllm-openai:latest \
  --model Qwen/Qwen2.5-1.5B-Instruct --max-model-len 8192
