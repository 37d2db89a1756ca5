#!/bin/bash
#SBATCH --job-name=llama33
#SBATCH --account=proj0815
#SBATCH --partition=gpu-h100
#SBATCH --gres=gpu:h100:4
#SBATCH --time=24:00:00
# expect-launch: yes
# expect-model: $SCRATCH/models/Llama-3.3-70B-Instruct
# expect-tp: 4

module purge
module load stack/2025 vllm/0.11.2-cuda-12.8

MODEL_DIR=$SCRATCH/models/Llama-3.3-70B-Instruct
export VLLM_CACHE_ROOT=$SCRATCH/.vllm

vllm serve $MODEL_DIR \
    --tensor-parallel-size 4 \
    --max-model-len 65536 \
    --served-model-name llama-3.3-70b
