#!/bin/bash
#SBATCH --gres=gpu:h100:2
#SBATCH --time=03:00:00

export UV_CACHE_DIR=/scratch/$USER/uv-cache
uv run --python 3.12 --with 'vllm==0.8.5' --no-project \
    vllm serve Qwen/Qwen2.5-14B-Instruct -tp 2 --max-model-len 32768
