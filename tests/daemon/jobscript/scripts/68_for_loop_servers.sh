#!/bin/bash
#SBATCH --gres=gpu:h100:4
#SBATCH --time=06:00:00

MODELS=(Qwen/Qwen2.5-7B-Instruct meta-llama/Llama-3.1-8B-Instruct google/gemma-2-9b-it mistralai/Mistral-7B-Instruct-v0.1)
i=0
for m in "${MODELS[@]}"; do
    CUDA_VISIBLE_DEVICES=$i vllm serve "$m" --port $((8000 + i)) --max-model-len 8192 &
    i=$((i + 1))
done
wait
