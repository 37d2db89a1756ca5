#!/bin/bash
#SBATCH --job-name=q3-8b-x2
#SBATCH --gres=gpu:2
#SBATCH --cpus-per-task=16
#SBATCH --mem=64G
#SBATCH --time=06:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen3-8B
# expect-tp: 1

source ~/.bashrc
conda activate vllm

mkdir -p logs
CUDA_VISIBLE_DEVICES=0 nohup vllm serve Qwen/Qwen3-8B --port 8001 --max-model-len 32768 > logs/r0_${SLURM_JOB_ID}.log 2>&1 &
CUDA_VISIBLE_DEVICES=1 nohup vllm serve Qwen/Qwen3-8B --port 8002 --max-model-len 32768 > logs/r1_${SLURM_JOB_ID}.log 2>&1 &

sleep 120
python scripts/round_robin_eval.py --ports 8001 8002 --model Qwen/Qwen3-8B

wait
