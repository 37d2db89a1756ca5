#!/bin/bash
#SBATCH --job-name=eval
#SBATCH --gres=gpu:2
#SBATCH --time=06:00:00
# expect-launch: no

conda activate eval
lm_eval --model vllm \
  --model_args pretrained=meta-llama/Llama-3.1-8B-Instruct,tensor_parallel_size=2,gpu_memory_utilization=0.85 \
  --tasks gsm8k,mmlu --batch_size auto
