#!/bin/bash
#SBATCH --job-name=q3-32b
#SBATCH --gres=gpu:80g:2
#SBATCH --mem=160G
#SBATCH --qos=short
#SBATCH --output=serve_%j.txt
# expect-launch: yes
# expect-model: Qwen/Qwen3-32B
# expect-tp: 2

module purge
module load cuda/12.8
module load vllm/0.11.0

vllm serve Qwen/Qwen3-32B --tensor-parallel-size 2 --max-model-len 32k --reasoning-parser qwen3
