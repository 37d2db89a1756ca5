#!/bin/bash
#SBATCH --job-name=judge
#SBATCH --gres=gpu:2
#SBATCH --time=06:00:00
# expect-launch: yes
# expect-model: unknown
# expect-tp: 2

if [ "$USE_BIG" = "1" ]; then
  JUDGE=Qwen/Qwen3-32B
else
  JUDGE=Qwen/Qwen3-8B
fi

vllm serve $JUDGE --tensor-parallel-size 2 --port 18901 --served-model-name judge
