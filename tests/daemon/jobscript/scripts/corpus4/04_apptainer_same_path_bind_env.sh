#!/bin/bash
#SBATCH --job-name=gptoss-120b
#SBATCH -t 24:00:00
#SBATCH -p scc-gpu
#SBATCH -G H100:4
#SBATCH -N 1
# expect-launch: yes
# expect-model: openai/gpt-oss-120b
# expect-tp: 4

set -euo pipefail
echo "[$(date +%F\ %T)] starting on $HOSTNAME"

export HF_HOME=/scratch-scc/users/$USER/hf
export MODEL=${MODEL:-openai/gpt-oss-120b}
export SIF=/scratch-scc/projects/nlp_lab/images/vllm-0.11.sif

module load gcc cuda apptainer
mkdir -p "$HF_HOME" logs

apptainer exec \
  --nv \
  --cleanenv \
  --env TIKTOKEN_RS_CACHE_DIR="$HF_HOME" \
  --env HF_HOME="$HF_HOME" \
  --env HF_HUB_OFFLINE=1 \
  -B "$HF_HOME:$HF_HOME" \
  "$SIF" \
  vllm serve "$MODEL" \
    --port 8080 \
    --tensor-parallel-size 4 \
    --async-scheduling \
    --tool-call-parser openai --enable-auto-tool-choice
