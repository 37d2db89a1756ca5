#!/bin/bash
#SBATCH --job-name=gemma-serve
#SBATCH --partition=h100
#SBATCH -G 2
#SBATCH --time=06:00:00
#SBATCH --exclusive

NUM_GPUS=$SLURM_GPUS_ON_NODE

srun --container-image=vllm/vllm-openai:v0.6.3 \
     --container-mounts=/data/models:/models \
     vllm serve google/gemma-2-9b-it --tensor-parallel-size ${NUM_GPUS} --max-model-len 4096
