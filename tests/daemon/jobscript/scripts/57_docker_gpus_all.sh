#!/bin/bash
#SBATCH --partition=h100
#SBATCH --gres=gpu:h100:4
#SBATCH --exclusive

docker run --rm --gpus all --ipc=host -p 8000:8000 \
    -v ~/.cache/huggingface:/root/.cache/huggingface \
    --env "HUGGING_FACE_HUB_TOKEN=$HF_TOKEN" \
    vllm/vllm-openai:latest \
    --model meta-llama/Llama-3.1-70B-Instruct \
    --tensor-parallel-size 4 --max-model-len 16384
