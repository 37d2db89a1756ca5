#!/bin/bash
#SBATCH --gres=gpu:h100:1
#SBATCH --time=01:00:00

export MODEL=Qwen/Qwen2.5-3B-Instruct
export MAX_LEN=16384

sh -c 'exec vllm serve "$MODEL" --max-model-len "$MAX_LEN" --gpu-memory-utilization 0.85'
