#!/bin/bash
#SBATCH --nodes=1
#SBATCH --gpus-per-node=2
#SBATCH --partition=h200
#SBATCH --time=04:00:00

vllm serve meta-llama/Llama-3.1-70B-Instruct \
    --tensor-parallel-size=${SLURM_GPUS_PER_NODE:-4} \
    --max-model-len=32768
