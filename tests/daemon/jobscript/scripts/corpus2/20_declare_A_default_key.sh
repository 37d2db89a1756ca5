#!/bin/bash
#SBATCH --job-name=qwen3-sizes
#SBATCH --gres=gpu:2
#SBATCH --time=08:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen3-14B
# expect-tp: 2

declare -A MODELS=(
  [small]=Qwen/Qwen3-8B
  [medium]=Qwen/Qwen3-14B
  [large]=Qwen/Qwen3-32B
)
declare -A TPS=([small]=1 [medium]=2 [large]=4)

SIZE=${SIZE:-medium}
echo "serving size=$SIZE"

vllm serve "${MODELS[$SIZE]}" --tensor-parallel-size "${TPS[$SIZE]}" --port 8000
