#!/bin/bash
#SBATCH --partition=h100
#SBATCH --gres=gpu:h100:1
#SBATCH --time=05:00:00
#OMNIPILOT concurrency=64 prompt_len=2048 output_len=512

vllm serve Qwen/Qwen3-8B \
  --quantization fp8 \
  --kv-cache-dtype fp8 \
  --max-model-len 32768
