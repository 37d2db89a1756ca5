#!/bin/bash
#SBATCH --gres=gpu:a100:1
#SBATCH --time=01:00:00

accelerate launch --num_processes 1 --mixed_precision bf16 -m vllm.entrypoints.openai.api_server \
    --model meta-llama/Meta-Llama-3-8B-Instruct --max-model-len 4096
