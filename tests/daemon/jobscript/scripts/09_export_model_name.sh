#!/bin/bash
#SBATCH --partition=h200
#SBATCH --gres=gpu:h200:8
#SBATCH --time=2-00:00:00
#SBATCH --account=llm-team
#SBATCH --qos=long

export MODEL_NAME="meta-llama/Meta-Llama-3-70B-Instruct"
export TP=8
export VLLM_WORKER_MULTIPROC_METHOD=spawn

python -m vllm.entrypoints.openai.api_server \
  --model $MODEL_NAME \
  --tensor-parallel-size "$TP" \
  --max-model-len 8192 \
  --disable-log-requests
