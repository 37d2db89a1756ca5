#!/bin/bash
#SBATCH --partition=a100
#SBATCH --gpus-per-node=a100:4
#SBATCH --time=1-00:00:00
#SBATCH --mem=0

SIF=/apps/containers/vllm-0.6.4.sif
export HF_HOME=/scratch/$USER/hf

apptainer exec --nv --bind /scratch:/scratch --env PYTHONUNBUFFERED=1 $SIF \
    vllm serve meta-llama/Llama-3.1-70B-Instruct \
        --tensor-parallel-size $SLURM_GPUS_ON_NODE \
        --max-model-len 8192 \
        --kv-cache-dtype fp8
