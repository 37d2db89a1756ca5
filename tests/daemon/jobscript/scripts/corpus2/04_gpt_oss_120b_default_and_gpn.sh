#!/bin/bash
#SBATCH --job-name=oss120
#SBATCH -p gpu-long
#SBATCH --nodes=1
#SBATCH --gpus-per-node=2
#SBATCH --cpus-per-task=56
#SBATCH --time=7-00:00:00
# expect-launch: yes
# expect-model: openai/gpt-oss-120b
# expect-tp: 2

set -euo pipefail
module load cuda/12.8
source ~/miniforge3/etc/profile.d/conda.sh
set +u
conda activate /project/envs/oss
set -u

MODEL="${MODEL:-openai/gpt-oss-120b}"
HOST="${HOST:-0.0.0.0}"
PORT="${PORT:-8000}"

vllm serve "${MODEL}" --host "${HOST}" --port "${PORT}" \
  --tensor-parallel-size "${SLURM_GPUS_PER_NODE}" \
  --async-scheduling
