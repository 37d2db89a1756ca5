#!/bin/bash
#SBATCH --gres=gpu:a100_80gb:1
#SBATCH --time=04:00:00

source ~/miniconda3/etc/profile.d/conda.sh
conda run -n vllm-env --no-capture-output vllm serve deepseek-ai/DeepSeek-R1-Distill-Llama-8B \
    --max-model-len 32768 --max-num-seqs 96
