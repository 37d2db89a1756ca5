#!/bin/bash
#SBATCH --gres=gpu:l40s:2
#SBATCH --time=05:00:00

podman run --rm --device nvidia.com/gpu=all --security-opt=label=disable \
  -v /scratch/models:/models:Z --shm-size 16g \
  docker.io/vllm/vllm-openai:v0.6.3 --model Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 2 --max-num-seqs 200
