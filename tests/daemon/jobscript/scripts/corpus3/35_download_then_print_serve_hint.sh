#!/bin/bash
#SBATCH --job-name=fetch-weights
#SBATCH --partition=transfer
#SBATCH --cpus-per-task=4
#SBATCH --time=03:00:00
# expect-launch: no

export HF_HOME=/scratch/$USER/hf
source ~/venvs/hf/bin/activate
hf download google/gemma-3-27b-it --local-dir /scratch/$USER/models/gemma-3-27b-it
echo "done; serve it with: vllm serve /scratch/$USER/models/gemma-3-27b-it --tensor-parallel-size 2"
