#!/bin/bash
#SBATCH --job-name=qwen3-size
#SBATCH --gres=gpu:2
#SBATCH --time=12:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen3-32B
# expect-tp: 2

SIZE=32b   # edit: 8b | 14b | 32b

case "$SIZE" in
  8b)  MODEL=Qwen/Qwen3-8B;  TP=1 ;;
  14b) MODEL=Qwen/Qwen3-14B; TP=1 ;;
  32b) MODEL=Qwen/Qwen3-32B; TP=2 ;;
  *)   echo "unknown size $SIZE"; exit 1 ;;
esac

conda activate vllm
vllm serve "$MODEL" --tensor-parallel-size "$TP" --port 8000
