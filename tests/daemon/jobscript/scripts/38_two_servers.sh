#!/bin/bash
#SBATCH --gres=gpu:h100:2
#SBATCH --time=04:00:00

CUDA_VISIBLE_DEVICES=0 vllm serve Qwen/Qwen2.5-7B-Instruct --port 8000 &
CUDA_VISIBLE_DEVICES=1 vllm serve meta-llama/Llama-3.1-8B-Instruct --port 8001 &
wait
