#!/bin/bash
#SBATCH --gres=gpu:h100:1
#SBATCH --time=02:00:00

vllm bench throughput --model Qwen/Qwen2.5-7B-Instruct --input-len 1024 --output-len 256 --num-prompts 1000
