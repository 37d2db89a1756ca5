#!/bin/bash
#SBATCH --gres=gpu:h100:1
#SBATCH --time=3:00:00
#SBATCH --partition=h100

# usage: sbatch 08_model_var_default.sh [model]
MODEL=${MODEL:-Qwen/Qwen2.5-14B-Instruct}
PORT=${PORT:-8000}

echo "starting $MODEL on port $PORT"
vllm serve ${MODEL} --port $PORT --max-num-seqs 128
