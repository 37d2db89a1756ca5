#!/bin/bash
#SBATCH --job-name=gemma3-12b
#SBATCH --gres=gpu:1
#SBATCH --time=03:00:00
# expect-launch: yes
# expect-model: google/gemma-3-12b-it
# expect-tp: 1

set -euo pipefail
MODEL=google/gemma-3-12b-it
PORT=$(shuf -i 20000-40000 -n 1)

cleanup() {
  [[ -n "${VLLM_PID:-}" ]] && kill "$VLLM_PID" 2>/dev/null || true
}
trap cleanup EXIT

vllm serve "$MODEL" --port "$PORT" --max-model-len 8192 > "vllm_${SLURM_JOB_ID}.log" 2>&1 &
VLLM_PID=$!

until curl -sf "http://127.0.0.1:${PORT}/health" >/dev/null; do
  kill -0 "$VLLM_PID" || exit 1
  sleep 5
done

python run_eval.py --base-url "http://127.0.0.1:${PORT}/v1" --model "$MODEL"
