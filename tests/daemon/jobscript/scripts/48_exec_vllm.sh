#!/bin/bash
#SBATCH --partition=l40s
#SBATCH --gres=gpu:l40s:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=64G

set -x
cd "$SLURM_SUBMIT_DIR"
exec vllm serve microsoft/Phi-3-mini-4k-instruct --max-num-seqs 64 --port 8000
