#!/bin/bash
#SBATCH --job-name=crlf
#SBATCH --gres=gpu:a100:2
#SBATCH --time=02:00:00

MODEL=Qwen/Qwen2.5-14B-Instruct
TP=2

vllm serve $MODEL \
    --tensor-parallel-size $TP \
    --max-model-len 8192
