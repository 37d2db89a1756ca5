#!/bin/bash
#SBATCH --job-name=grpo
#SBATCH --nodes=1
#SBATCH --gres=gpu:8
#SBATCH --time=2-00:00:00
# expect-launch: no

export VLLM_USE_V1=1
accelerate launch --config_file configs/zero3.yaml --num_processes 8 \
  train_grpo.py --model_name_or_path Qwen/Qwen3-4B \
  --use_vllm --vllm_mode colocate --vllm_gpu_memory_utilization 0.3 \
  --output_dir ckpt/grpo-qwen3-4b
