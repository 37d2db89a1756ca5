#!/bin/bash
#SBATCH --gres=gpu:h100:1
#SBATCH --time=04:00:00

vllm serve my-org/internal-chat-13b --max-model-len 4096
