#!/bin/bash
#SBATCH --partition=GPU-4090
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --gres=gpu:2
#SBATCH --mem=32G
#SBATCH --output=logs/qwen-embedding-%j.out
# expect-launch: yes
# expect-model: Qwen/Qwen3-Embedding-8B
# expect-tp: 2
# expect-scope: out

echo "Job started on $(hostname) at $(date)"
source ~/.bashrc
cd ~/data/rag/
echo "python: $(uv run which python)"

export CUDA_VISIBLE_DEVICES=0,1
uv run vllm serve Qwen/Qwen3-Embedding-8B \
    --served-model-name qwen3-embedding \
    --tensor-parallel-size 2 \
    --gpu-memory-utilization 0.90 \
    --max-model-len 8192 \
    --host 0.0.0.0 \
    --port 8001
echo "Job finished at $(date)"
