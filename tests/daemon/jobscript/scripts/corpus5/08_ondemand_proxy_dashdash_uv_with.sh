#!/bin/bash
#SBATCH --job-name=falcon3-ondemand
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=48G
#SBATCH --time=12:00:00
# expect-launch: yes
# expect-model: tiiuae/Falcon3-10B-Instruct
# expect-tp: 1

export UV_CACHE_DIR=$SCRATCH/uv-cache
export HF_HOME=$SCRATCH/hf

echo "proxy on $(hostname):8100"
llm-proxy-ondemand --port 8100 --idle-timeout 900 -- \
    uv run --with vllm python -m vllm.entrypoints.openai.api_server \
    --model tiiuae/Falcon3-10B-Instruct --max-model-len 16384
