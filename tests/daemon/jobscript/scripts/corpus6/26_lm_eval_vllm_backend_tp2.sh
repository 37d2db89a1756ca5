#!/bin/bash
#SBATCH --gres=gpu:2
#SBATCH --time=06:00:00
# expect-launch: no

source ~/venvs/eval/bin/activate
export VLLM_WORKER_MULTIPROC_METHOD=spawn
lm_eval --model vllm \
  --model_args pretrained=Qwen/Qwen3-8B,tensor_parallel_size=2,gpu_memory_utilization=0.8,max_model_len=8192 \
  --tasks gsm8k,mmlu_pro --batch_size auto --output_path results/qwen3-8b
