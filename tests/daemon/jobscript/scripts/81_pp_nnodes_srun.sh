#!/bin/bash
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=4
#SBATCH --time=08:00:00

MASTER=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n1)
srun --nodes=2 --ntasks-per-node=1 bash -c 'vllm serve Qwen/Qwen2.5-72B-Instruct \
    --tensor-parallel-size 4 --pipeline-parallel-size 2 \
    --nnodes 2 --node-rank $SLURM_NODEID --master-addr '"$MASTER"
