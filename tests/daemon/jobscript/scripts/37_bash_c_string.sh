#!/bin/bash
#SBATCH --gres=gpu:a100:2
#SBATCH --time=04:00:00

MODEL=google/gemma-2-27b-it
srun apptainer exec --nv img.sif bash -c "source /opt/venv/bin/activate && vllm serve $MODEL --tensor-parallel-size 2"
