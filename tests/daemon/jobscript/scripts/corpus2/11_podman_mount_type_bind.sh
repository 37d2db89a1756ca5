#!/bin/bash
#SBATCH --job-name=llama8b-podman
#SBATCH --gres=gpu:1
# expect-launch: yes
# expect-model: /srv/models/Llama-3.1-8B-Instruct
# expect-tp: 1

podman run --rm --device nvidia.com/gpu=all --security-opt=label=disable \
  --mount type=bind,src=/srv/models/Llama-3.1-8B-Instruct,dst=/models/llama \
  -p 8000:8000 \
  docker.io/vllm/vllm-openai:latest \
  --model /models/llama --max-num-seqs 64
