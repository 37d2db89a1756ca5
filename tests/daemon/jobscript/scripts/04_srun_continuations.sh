#!/bin/bash
#SBATCH --job-name=qwen32-awq
#SBATCH --partition=a100
#SBATCH --nodes=1
#SBATCH --gres=gpu:a100:4
#SBATCH --time=12:00:00
#SBATCH --output=logs/%x-%j.out

source /opt/miniforge/etc/profile.d/conda.sh
conda activate serve

srun --ntasks=1 --cpus-per-task=32 \
     --gres=gpu:a100:4 \
  vllm serve Qwen/Qwen2.5-32B-Instruct-AWQ \
    -tp 4 \
    --quantization awq \
    --max-model-len 16384 \
    --gpu-memory-utilization 0.92 \
    --enable-prefix-caching \
    --port 8000
