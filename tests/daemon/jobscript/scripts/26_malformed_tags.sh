#!/bin/bash
#SBATCH --gres=gpu:a100:1
#SBATCH --time=01:00:00
#OMNIPILOT model=Qwen/Qwen2.5-7B-Instruct concurrency=lots precision=int3 colour=blue

vllm serve Qwen/Qwen2.5-7B-Instruct
