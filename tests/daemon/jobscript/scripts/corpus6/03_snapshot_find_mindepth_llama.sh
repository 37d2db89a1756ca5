#!/bin/bash
#SBATCH -J llama-offline
#SBATCH -p gpu_a100_short
#SBATCH --gres=gpu:1
#SBATCH -c 8
#SBATCH --mem=48G
#SBATCH -t 01:00:00
# expect-launch: yes
# expect-model: /pfs/work/myhf/hf_cache/hub/models--meta-llama--Llama-3.1-8B-Instruct/snapshots/*
# expect-tp: 1
set -euo pipefail

export HF_HOME=/pfs/work/myhf/hf_cache
export HF_HUB_OFFLINE=1
CACHE_DIR=$HF_HOME/hub/models--meta-llama--Llama-3.1-8B-Instruct/snapshots
MODEL_PATH=$(find "$CACHE_DIR" -mindepth 1 -maxdepth 1 -type d | head -n1)
MODEL_PATH=$(find $HF_HOME/hub/models--meta-llama--Llama-3.1-8B-Instruct/snapshots -mindepth 1 -maxdepth 1 | head -n1)

python -m vllm.entrypoints.openai.api_server \
  --model "$MODEL_PATH" \
  --served-model-name llama31-8b \
  --max-model-len 16384 \
  --port 8011
