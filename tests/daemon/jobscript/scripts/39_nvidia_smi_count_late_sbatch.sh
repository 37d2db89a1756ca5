#!/bin/bash
#SBATCH --partition=h100
#SBATCH --gres=gpu:h100:4
echo "job $SLURM_JOB_ID on $(hostname)"
#SBATCH --time=10:00:00

NGPUS=$(nvidia-smi -L | wc -l)
vllm serve Qwen/Qwen2.5-72B-Instruct-AWQ --tensor-parallel-size $NGPUS --quantization awq_marlin
