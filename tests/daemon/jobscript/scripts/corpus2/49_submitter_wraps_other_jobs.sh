#!/bin/bash
#SBATCH --job-name=submitter
#SBATCH --cpus-per-task=1
#SBATCH --time=00:05:00
# expect-launch: no

for m in Qwen/Qwen3-8B Qwen/Qwen3-14B; do
  sbatch --gres=gpu:2 --job-name="srv-${m##*/}" --wrap "vllm serve $m --tensor-parallel-size 2"
done
