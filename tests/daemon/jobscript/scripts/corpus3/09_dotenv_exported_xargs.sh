#!/bin/bash
#SBATCH --job-name=vllm-local
#SBATCH --gres=gpu:4
#SBATCH --time=24:00:00
# expect-launch: yes
# expect-model: unknown
# expect-tp: unknown

cd "$SLURM_SUBMIT_DIR"
# MODEL_NAME, PORT, NUM_GPU live in .env next to this script
export $(grep -v '^#' .env | xargs -d '\n')

vllm serve $MODEL_NAME --host 0.0.0.0 --port $PORT --tensor-parallel-size $NUM_GPU
