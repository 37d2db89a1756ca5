#!/bin/bash
#SBATCH --gres=gpu:l40s:1
#SBATCH --time=02:00:00

vllm serve /scratch/models/qwen2.5-7b-instruct-q4_k_m.gguf \
    --tokenizer Qwen/Qwen2.5-7B-Instruct --max-model-len 8192
