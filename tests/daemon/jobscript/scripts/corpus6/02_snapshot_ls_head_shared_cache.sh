#!/bin/bash
#SBATCH --job-name=qwen3-cache
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=64G
#SBATCH --time=04:00:00
# expect-launch: yes
# expect-model: /scratch/shared/hf-cache/hub/models--Qwen--Qwen3-8B/snapshots/*
# expect-tp: 1

export HF_HOME=/scratch/shared/hf-cache
export HF_HUB_OFFLINE=1
SNAP=$(ls -d $HF_HOME/hub/models--Qwen--Qwen3-8B/snapshots/* | head -1)
echo "serving snapshot $SNAP"

source ~/venvs/vllm/bin/activate
vllm serve $SNAP --served-model-name qwen3-8b --port 8000 --enable-prefix-caching
