#!/bin/bash
#SBATCH --gres=gpu:a100:1
#SBATCH --time=02:00:00

cd $HOME/chat-backend
poetry run python -m vllm.entrypoints.openai.api_server \
  --model mistralai/Mistral-7B-Instruct-v0.1 \
  --max-model-len 8192 \
  --port 8080
