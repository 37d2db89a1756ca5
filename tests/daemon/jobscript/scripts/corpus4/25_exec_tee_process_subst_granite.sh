#!/bin/bash
#SBATCH --job-name=granite4
#SBATCH --gres=gpu:2
#SBATCH --time=06:00:00
# expect-launch: yes
# expect-model: ibm-granite/granite-4.0-h-small
# expect-tp: 2

set -euo pipefail
LOG=logs/granite-${SLURM_JOB_ID}.log
mkdir -p logs
exec > >(tee -a "$LOG") 2>&1

echo "node: $(hostname)"
nvidia-smi --query-gpu=name,memory.total --format=csv

vllm serve ibm-granite/granite-4.0-h-small \
  --tensor-parallel-size 2 \
  --max-model-len 32768 \
  --tool-call-parser granite --enable-auto-tool-choice
