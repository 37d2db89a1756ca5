#!/bin/bash
#SBATCH --gres=gpu:h100:1
#SBATCH --time=05:00:00

cd ~/proj/serving
uv run --with vllm vllm serve deepseek-ai/DeepSeek-R1-Distill-Qwen-7B --max-model-len 32k --gpu-memory-utilization 0.9
