#!/bin/bash
#SBATCH --job-name=seeds
#SBATCH --gres=gpu:1
#SBATCH --time=06:00:00
#SBATCH --array=0-3
# expect-launch: yes
# expect-model: Qwen/Qwen3-4B-Instruct-2507
# expect-tp: 1

# one server per seed; every task serves the same checkpoint
MODELS=("Qwen/Qwen3-4B-Instruct-2507" "Qwen/Qwen3-4B-Instruct-2507" "Qwen/Qwen3-4B-Instruct-2507" "Qwen/Qwen3-4B-Instruct-2507")
SEEDS=(11 22 33 44)
MODEL="${MODELS[$SLURM_ARRAY_TASK_ID]}"
SEED="${SEEDS[$SLURM_ARRAY_TASK_ID]}"

source .venv/bin/activate
vllm serve "$MODEL" --seed "$SEED" --port 8100 --max-model-len 131072 --kv-cache-dtype fp8_e4m3 &
python sample.py --seed "$SEED"
