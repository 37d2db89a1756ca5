#!/bin/bash
#SBATCH --gres=gpu:h100:2
#SBATCH --ntasks=1
#SBATCH --time=04:00:00

# inherited from a training template; vLLM spawns its own workers
torchrun --standalone --nproc_per_node=1 -m vllm.entrypoints.openai.api_server \
    --model Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 2
