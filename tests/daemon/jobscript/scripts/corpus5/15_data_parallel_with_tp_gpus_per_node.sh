#!/bin/bash
#SBATCH --job-name=dp4-tp2
#SBATCH --nodes=1
#SBATCH --gpus-per-node=8
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=96
#SBATCH --time=06:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen3-4B-Instruct-2507
# expect-tp: 2

source ~/venvs/vllm/bin/activate
# 4 data-parallel ranks of 2 GPUs each: 8 GPUs in all
vllm serve Qwen/Qwen3-4B-Instruct-2507 \
    --data-parallel-size 4 \
    --tensor-parallel-size 2 \
    --port 9000
