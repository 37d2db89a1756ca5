#!/bin/bash
#SBATCH --job-name=vllm-gpt-oss
#SBATCH -p part-h200
#SBATCH --nodes=1
#SBATCH --gpus-per-node=2
#SBATCH --cpus-per-task=56
#SBATCH --time=7-00:00:00
#SBATCH --output=logs/vllm_%j.out
#SBATCH --error=logs/vllm_%j.err
# expect-launch: yes
# expect-model: openai/gpt-oss-120b
# expect-tp: 2

set -euo pipefail

module load cuda/12.8
source $HOME/miniconda3/etc/profile.d/conda.sh
set +u
conda activate $HOME/envs/vllm-0.11
set -u

MODEL="${MODEL:-openai/gpt-oss-120b}"
HOST="${HOST:-0.0.0.0}"
PORT="${PORT:-8000}"

echo "Model=${MODEL} Port=${PORT} GPUs=${SLURM_GPUS_ON_NODE}"
vllm serve "${MODEL}" \
  --host "${HOST}" --port "${PORT}" \
  --tensor-parallel-size "${SLURM_GPUS_ON_NODE}" \
  --async-scheduling \
  --max-num-seqs 128
