#!/bin/bash
#SBATCH --job-name=vllm-gpt-oss
#SBATCH -p part-gh
#SBATCH --nodes=1
#SBATCH --gpus-per-node=1
#SBATCH --cpus-per-task=32
#SBATCH --time=7-00:00:00
#SBATCH --output=logs/vllm_%j.out
# expect-launch: yes
# expect-model: openai/gpt-oss-120b
# expect-tp: 1

set -euo pipefail

module load cuda/12.8
eval "$(conda shell.bash hook)"
set +u
conda activate /home/grp/envs/aug_env
set -u

MODEL="openai/gpt-oss-120b"
HOST="0.0.0.0"
PORT="8000"
TP_SIZE=1   # match the GPU count

echo "Starting vLLM server: $MODEL on $HOST:$PORT"
vllm serve "$MODEL" \
  --host "$HOST" \
  --port "$PORT" \
  --tensor-parallel-size "$TP_SIZE" \
  --gpu-memory-utilization 0.9
