#!/bin/bash
#SBATCH --job-name=q3-moe
#SBATCH --nodes=1
#SBATCH --gres=gpu:h100:8
#SBATCH --time=10:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen3-235B-A22B-Instruct-2507-FP8
# expect-tp: 4

TP=$(( SLURM_GPUS_ON_NODE / 2 ))
source /opt/vllm/bin/activate
vllm serve Qwen/Qwen3-235B-A22B-Instruct-2507-FP8 \
    -tp $TP -dp 2 \
    --enable-expert-parallel \
    --kv-cache-dtype fp8 \
    --max-num-batched-tokens 20000 \
    --no-enable-prefix-caching
