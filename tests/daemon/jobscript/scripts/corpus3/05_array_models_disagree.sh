#!/bin/bash
#SBATCH --job-name=judge-sweep
#SBATCH --gres=gpu:l40s:1
#SBATCH --cpus-per-task=16
#SBATCH --mem=96G
#SBATCH --time=12:00:00
#SBATCH --array=0-2
#SBATCH -o slurm_logs/%A_%a.out
# expect-launch: yes
# expect-model: unknown
# expect-tp: 1

MODELS=(
  "Qwen/Qwen3-8B"
  "google/gemma-3-12b-it"
  "mistralai/Mistral-Small-3.2-24B-Instruct-2506"
)
MODEL=${MODELS[$SLURM_ARRAY_TASK_ID]}
PORT=$((8000 + SLURM_ARRAY_TASK_ID))

echo "===== task $SLURM_ARRAY_TASK_ID: $MODEL on $(hostname) ====="
source ~/.bashrc
conda activate vllm

vllm serve "$MODEL" --port $PORT --max-model-len 16384 &
sleep 240
python judge.py --model "$MODEL" --port $PORT --shard $SLURM_ARRAY_TASK_ID
