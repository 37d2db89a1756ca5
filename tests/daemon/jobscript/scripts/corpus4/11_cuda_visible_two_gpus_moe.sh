#!/bin/bash
#SBATCH --job-name=q3-30b-a3b
#SBATCH --gres=gpu:2
#SBATCH --time=12:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen3-30B-A3B-Instruct-2507
# expect-tp: 2

source ~/miniforge3/etc/profile.d/conda.sh
conda activate serve

CUDA_VISIBLE_DEVICES=0,1 vllm serve Qwen/Qwen3-30B-A3B-Instruct-2507 \
    --tensor-parallel-size 2 --enable-expert-parallel --max-model-len 32768
