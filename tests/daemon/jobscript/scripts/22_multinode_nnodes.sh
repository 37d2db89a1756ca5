#!/bin/bash
#SBATCH -N 2
#SBATCH --gpus-per-node=h100:8
#SBATCH -t 1-00:00:00

MASTER=$(scontrol show hostnames $SLURM_JOB_NODELIST | head -n1)
srun -N 2 --ntasks-per-node=1 bash -c 'vllm serve Qwen/Qwen2.5-72B-Instruct --tensor-parallel-size 8 --pipeline-parallel-size 2 --nnodes 2 --node-rank $SLURM_NODEID --master-addr '"$MASTER"
