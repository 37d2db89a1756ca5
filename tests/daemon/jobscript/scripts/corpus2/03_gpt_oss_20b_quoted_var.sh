#!/bin/bash
#SBATCH --job-name=oss20b
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --gpus-per-node=1
#SBATCH --cpus-per-task=8
#SBATCH --mem=48G
#SBATCH --time=24:00:00
# expect-launch: yes
# expect-model: openai/gpt-oss-20b
# expect-tp: 1

mkdir -p logs
module load CUDA/12.8
export TRITON_CACHE_DIR=/data/ws/cache/triton
# the MXFP4 checkpoint needs vllm >= 0.10.1:
#   uv pip install "vllm>=0.10.1"
source $HOME/serve/.venv/bin/activate
ulimit -n 16384

SERVE_MODEL="openai/gpt-oss-20b"
SERVE_PORT=8000
echo "model: $SERVE_MODEL on port $SERVE_PORT"

vllm serve "$SERVE_MODEL" \
  --host 0.0.0.0 \
  --port $SERVE_PORT \
  --tensor-parallel-size 1 \
  --gpu-memory-utilization 0.95 \
  --max-model-len 32768
