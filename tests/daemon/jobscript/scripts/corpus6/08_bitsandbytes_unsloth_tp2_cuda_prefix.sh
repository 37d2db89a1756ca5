#!/bin/bash
#SBATCH --job-name=bnb70
#SBATCH --partition=gpu
#SBATCH --gres=gpu:l40s:2
#SBATCH --time=1-00:00:00
# expect-launch: yes
# expect-model: unsloth/Llama-3.3-70B-Instruct-bnb-4bit
# expect-tp: 2

conda activate regen
# Serve the model
CUDA_VISIBLE_DEVICES=0,1 vllm serve unsloth/Llama-3.3-70B-Instruct-bnb-4bit \
  --host 0.0.0.0  \
  --port  8000 \
  --tensor-parallel-size 2 \
  --max-model-len 50000 \
  --api-key "$API_KEY" \
  --quantization=bitsandbytes \
  --load-format=bitsandbytes \
  --gpu-memory-utilization=0.75 \
  --served-model-name judge
