#!/bin/bash
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gres=gpu:h100:8
#SBATCH --time=12:00:00

head=$(scontrol show hostnames $SLURM_JOB_NODELIST | head -n1)
srun -N1 -n1 -w $head ray start --head --port=6379 --block &
sleep 15
srun -N1 -n1 -x $head ray start --address=$head:6379 --block &
sleep 30
vllm serve deepseek-ai/DeepSeek-R1-Distill-Llama-70B --tensor-parallel-size 8 --pipeline-parallel-size 2 \
    --distributed-executor-backend ray --max-model-len 65536
