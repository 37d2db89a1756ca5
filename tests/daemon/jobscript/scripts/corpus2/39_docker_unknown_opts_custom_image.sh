#!/bin/bash
#SBATCH --job-name=q3-14b-fp8
#SBATCH --gres=gpu:2
#SBATCH --time=04:00:00
# expect-launch: yes
# expect-model: /mnt/weights/Qwen3-14B-FP8
# expect-tp: 2

docker run --gpus '"device=0,1"' --shm-size 16g --ulimit memlock=-1 \
  --cgroupns host --stop-timeout 30 \
  -v /mnt/weights/Qwen3-14B-FP8:/model:ro \
  registry.example.org/ml/llm-serve:2025.1 \
  vllm serve /model -tp 2 --port 8000
