#!/bin/bash
#SBATCH --job-name=ns-server
#SBATCH --gres=gpu:1
#SBATCH --time=04:00:00
# expect-launch: unknowable

source ~/venvs/nemo-skills/bin/activate
ns start_server \
    --cluster=local \
    --server_type=vllm \
    --model=/workspace/models/Qwen3-4B-Thinking-2507 \
    --server_gpus=1 \
    --log_dir=/workspace/logs/start_server
