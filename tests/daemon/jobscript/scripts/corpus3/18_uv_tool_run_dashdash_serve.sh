#!/bin/bash
#SBATCH --job-name=gemma3-tool
#SBATCH --gres=gpu:a100:1
#SBATCH --time=02:00:00
# expect-launch: yes
# expect-model: google/gemma-3-12b-it
# expect-tp: 1

set -ex
# a throwaway environment with vllm installed, then `vllm serve ...` inside it
uv tool run 'vllm>=0.10.2' -- \
  serve \
  --model=google/gemma-3-12b-it \
  --max-model-len=8192 \
  --dtype=bfloat16 \
  --gpu-memory-utilization=0.9 \
  --port=8091
