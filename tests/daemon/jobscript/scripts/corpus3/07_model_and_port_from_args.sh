#!/bin/bash
#SBATCH --nodes=1
#SBATCH --gres=gpu:A100_40GB:1
#SBATCH --mem=48G
#SBATCH --time=2-00:00:00
#SBATCH --output=logs/vllm_server-%j.out
# usage: sbatch deploy_vllm.sh <model> <port>
# expect-launch: yes
# expect-model: unknown
# expect-tp: 1

model_name=$1
port=$2

eval "$(conda shell.bash hook)"
conda activate vllm

vllm serve $model_name \
    --host $(scontrol show hostnames $SLURM_JOB_NODELIST | head -n 1) \
    --port $port \
    --gpu-memory-utilization 0.95 \
    --served-model-name llm
