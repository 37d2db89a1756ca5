#!/bin/bash
#SBATCH --job-name=granite4
#SBATCH --gres=gpu:2
#SBATCH --cpus-per-task=16
#SBATCH --time=08:00:00
# expect-launch: yes
# expect-model: ibm-granite/granite-4.0-h-small
# expect-tp: 2

podman run --rm \
  --device nvidia.com/gpu=all \
  --security-opt=label=disable \
  --shm-size=8g \
  -v $HOME/.cache/huggingface:/root/.cache/huggingface:Z \
  -p 8000:8000 \
  -e HF_HUB_OFFLINE=1 \
  docker.io/vllm/vllm-openai:v0.11.0 \
  --model=ibm-granite/granite-4.0-h-small \
  --dtype=bfloat16 \
  --tensor-parallel-size=2 \
  --max-model-len=32768
