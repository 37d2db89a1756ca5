#!/bin/bash
#SBATCH -p h100
#SBATCH --gres=gpu:h100:4
#SBATCH -t 12:00:00

cd $SLURM_SUBMIT_DIR
mkdir -p logs
ulimit -n 65536
exec nohup vllm serve deepseek-ai/DeepSeek-R1-Distill-Qwen-32B --tensor-parallel-size 4 --max-model-len 32768 --reasoning-parser deepseek_r1 > logs/vllm.$SLURM_JOB_ID.log 2>&1
