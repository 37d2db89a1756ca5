#!/bin/bash
#SBATCH --job-name=q3-8b-dp
#SBATCH --gres=gpu:4
#SBATCH --time=06:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen3-8B
# expect-tp: 1

vllm serve Qwen/Qwen3-8B --data-parallel-size 4 --tensor-parallel-size 1 --max-num-seqs 256
