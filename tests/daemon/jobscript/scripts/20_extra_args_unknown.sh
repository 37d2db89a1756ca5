#!/bin/bash
#SBATCH --gres=gpu:a100:1
#SBATCH --time=02:00:00

# EXTRA_ARGS comes from the environment of the submitting shell
vllm serve Qwen/Qwen2.5-1.5B-Instruct --max-model-len 4096 $EXTRA_ARGS
