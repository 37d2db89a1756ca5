#!/bin/bash
#SBATCH --job-name=uvx-vllm
#SBATCH --gpus=1
#SBATCH --time=04:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen3-8B
# expect-tp: 1

export UV_CACHE_DIR=/scratch/$USER/uv-cache
export HF_HOME=/scratch/$USER/hf
uvx --python 3.12 --from 'vllm==0.11.0' vllm serve Qwen/Qwen3-8B \
    --max-model-len 32768 --enable-reasoning --reasoning-parser qwen3 --port 8091
