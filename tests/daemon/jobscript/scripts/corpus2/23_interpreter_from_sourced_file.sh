#!/bin/bash
#SBATCH -J q3-8b-env
#SBATCH -N 1
#SBATCH --gres=gpu:2
#SBATCH -t 08:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen3-8B
# expect-tp: 2

set -euo pipefail
cd "$SLURM_SUBMIT_DIR"
source scripts/ensure_env.sh   # sets PYTHON_BIN to the project's environment

$PYTHON_BIN -m vllm.entrypoints.openai.api_server \
  --model Qwen/Qwen3-8B \
  --tensor-parallel-size 2 \
  --port 8000
