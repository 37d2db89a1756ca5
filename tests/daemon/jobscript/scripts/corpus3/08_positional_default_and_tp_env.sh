#!/bin/bash
#SBATCH --job-name=prover
#SBATCH --gres=gpu:h100:2
#SBATCH --time=10:00:00
# usage: sbatch serve_prover.sh [model_path]   (TP=... sbatch ... to change the split)
# expect-launch: yes
# expect-model: deepseek-ai/DeepSeek-R1-Distill-Qwen-32B
# expect-tp: 2

set -euo pipefail
MODEL_PATH="${1:-deepseek-ai/DeepSeek-R1-Distill-Qwen-32B}"
PORT="${PORT:-30000}"
TP="${TP:-2}"

echo "Model: ${MODEL_PATH}  Port: ${PORT}  TP: ${TP}"
source /opt/venvs/vllm/bin/activate
exec vllm serve "${MODEL_PATH}" --port "${PORT}" --tensor-parallel-size "${TP}" --max-model-len 32768
