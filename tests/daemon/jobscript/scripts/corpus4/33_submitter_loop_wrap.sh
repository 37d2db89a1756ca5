#!/bin/bash
#SBATCH --job-name=submit-servers
#SBATCH --time=00:05:00
#SBATCH --partition=cpu
# expect-launch: no

models=(
  "qwen3_8b:Qwen/Qwen3-8B"
  "gemma3_27b:google/gemma-3-27b-it"
)

for model in "${models[@]}"; do
  key=$(echo $model | cut -d ':' -f 1)
  name=$(echo $model | cut -d ':' -f 2)
  sbatch --gpus-per-node=8 --time=24:00:00 --nodes 1 \
    --output "logs/vllm_${key}_%j.out" \
    --wrap "vllm serve $name --tensor-parallel-size 8 --port 8000"
done
