#!/bin/bash
#SBATCH --job-name=debate-q3-14b
#SBATCH --partition=gpu
#SBATCH --gres=gpu:a100:4
#SBATCH --cpus-per-task=32
#SBATCH --time=1-00:00:00
#SBATCH --output=logs/%x-%j.out
# expect-launch: yes
# expect-model: Qwen/Qwen3-14B
# expect-tp: 4

source ~/miniforge3/etc/profile.d/conda.sh
conda activate debate
mkdir -p logs

nohup vllm serve Qwen/Qwen3-14B \
    --tensor-parallel-size 4 \
    --host 0.0.0.0 \
    --port 8000 \
    --dtype bfloat16 \
    --gpu-memory-utilization 0.90 \
    --max-model-len 16384 > logs/vllm_server_${SLURM_JOB_ID}.log 2>&1 &
SERVER_PID=$!

until curl -sf http://localhost:8000/v1/models >/dev/null; do sleep 10; done
python run_debate.py --rounds 3 --agents 4 --base-url http://localhost:8000/v1
kill $SERVER_PID
wait
