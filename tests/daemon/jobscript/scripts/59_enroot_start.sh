#!/bin/bash
#SBATCH --gres=gpu:h100:1
#SBATCH --time=02:00:00

enroot import -o $SCRATCH/vllm-openai.sqsh docker://vllm/vllm-openai:v0.7.3
enroot create --name vllm-openai $SCRATCH/vllm-openai.sqsh
enroot start --rw -m $SCRATCH/hf:/root/.cache/huggingface vllm-openai \
    --model Qwen/Qwen2.5-1.5B-Instruct --max-model-len 4096
