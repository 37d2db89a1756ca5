#!/bin/bash
#SBATCH --job-name=moe-docker
#SBATCH --gres=gpu:2
#SBATCH --exclusive
# expect-launch: yes
# expect-model: Qwen/Qwen3-30B-A3B
# expect-tp: 2

docker run --rm --runtime nvidia --gpus all --ipc=host \
    -v ~/.cache/huggingface:/root/.cache/huggingface \
    -p 8000:8000 \
    --env "HUGGING_FACE_HUB_TOKEN=$HF_TOKEN" \
    vllm/vllm-openai:v0.10.1 \
    --model Qwen/Qwen3-30B-A3B \
    --tensor-parallel-size 2
