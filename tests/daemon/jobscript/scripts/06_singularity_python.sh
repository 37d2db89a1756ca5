#!/bin/bash
#SBATCH -p gpu-h100
#SBATCH --gres=gpu:1
#SBATCH -t 04:00:00
#SBATCH -c 8

module load singularity
MODELS=/scratch/$USER/models
singularity exec --nv -B $MODELS vllm_latest.sif python3 -m vllm.entrypoints.openai.api_server \
  --model $MODELS/Meta-Llama-3-8B-Instruct \
  --served-model-name llama3 \
  --max-num-seqs 64
