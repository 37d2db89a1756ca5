#!/bin/bash
#SBATCH --nodes=1
#SBATCH --gres=gpu:h100:4
#SBATCH --time=12:00:00

srun --mpi=none --ntasks=1 --cpus-per-task=32 bash -c 'module load vllm/0.8 && vllm serve Qwen/Qwen2.5-72B-Instruct-AWQ --tensor-parallel-size 4 --quantization awq_marlin'
