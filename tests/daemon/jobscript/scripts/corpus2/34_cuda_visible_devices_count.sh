#!/bin/bash
#SBATCH --job-name=r1-14b
#SBATCH --gres=gpu:4
#SBATCH --time=05:00:00
# expect-launch: yes
# expect-model: deepseek-ai/DeepSeek-R1-Distill-Qwen-14B
# expect-tp: 4

NUM_GPUS=$(echo $CUDA_VISIBLE_DEVICES | tr ',' '\n' | wc -l)
echo "using $NUM_GPUS GPUs"
CUDA_LAUNCH_BLOCKING=0 vllm serve deepseek-ai/DeepSeek-R1-Distill-Qwen-14B \
  --tensor-parallel-size $NUM_GPUS --max-model-len 32768 --enforce-eager
