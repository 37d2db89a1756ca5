#!/usr/bin/env bash
#SBATCH --gres=gpu:a100:2
#SBATCH --time=04:00:00
set -euo pipefail

start_server() {
    local model="$1"
    local tp="${2:-1}"
    vllm serve "$model" --tensor-parallel-size "$tp" --max-model-len 8192 &
    echo $! > "$SLURM_SUBMIT_DIR/server.pid"
}

wait_ready() {
    until curl -sf http://localhost:8000/health >/dev/null; do sleep 5; done
}

start_server Qwen/Qwen2.5-7B-Instruct 2
wait_ready
python run_eval.py --base-url http://localhost:8000/v1
