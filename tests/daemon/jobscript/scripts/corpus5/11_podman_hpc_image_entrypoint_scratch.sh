#!/bin/bash
#SBATCH -A m9999_g
#SBATCH -C gpu
#SBATCH -q regular
#SBATCH -N 1
#SBATCH --gpus-per-node=4
#SBATCH -t 04:00:00
# expect-launch: yes
# expect-model: $SCRATCH/models/Qwen2.5-72B-Instruct
# expect-tp: 4

podman-hpc pull docker.io/vllm/vllm-openai:v0.11.2

podman-hpc run --rm --gpu --ipc=host \
    -v $SCRATCH/models:/models \
    -p 8000:8000 \
    -e VLLM_LOGGING_LEVEL=DEBUG \
    docker.io/vllm/vllm-openai:v0.11.2 \
    --model /models/Qwen2.5-72B-Instruct \
    --tensor-parallel-size 4 \
    --max-model-len 32768
