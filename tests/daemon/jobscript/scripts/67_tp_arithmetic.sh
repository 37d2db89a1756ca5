#!/bin/bash
#SBATCH --nodes=1
#SBATCH --ntasks=2
#SBATCH --gpus-per-task=2
#SBATCH --partition=a100
#SBATCH --time=04:00:00

srun --ntasks=1 --gpus=4 vllm serve meta-llama/Llama-3.1-70B-Instruct -tp $((SLURM_NTASKS*2)) --max-model-len 8192
