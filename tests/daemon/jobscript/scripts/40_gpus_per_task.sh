#!/bin/bash
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-task=4
#SBATCH --constraint=a100
#SBATCH --time=08:00:00

TP=$(( SLURM_GPUS_PER_TASK * 1 ))
vllm serve deepseek-ai/DeepSeek-R1-Distill-Llama-70B --tensor-parallel-size=$TP --max-model-len=8192
