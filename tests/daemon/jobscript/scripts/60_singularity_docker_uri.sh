#!/bin/bash
#SBATCH --gres=gpu:a100:4
#SBATCH --time=10:00:00

module load singularity
singularity run --nv -B /scratch:/scratch docker://vllm/vllm-openai:v0.7.3 \
    --model google/gemma-2-27b-it --tensor-parallel-size 4 --max-model-len 8192
