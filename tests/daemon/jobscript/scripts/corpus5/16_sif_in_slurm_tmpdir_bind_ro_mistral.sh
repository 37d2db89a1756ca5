#!/bin/bash
#SBATCH --job-name=mistral-small
#SBATCH --gres=gpu:a100:2
#SBATCH --cpus-per-task=16
#SBATCH --mem=120G
#SBATCH --tmp=40G
#SBATCH --time=10:00:00
# expect-launch: yes
# expect-model: $WORK/llm/Mistral-Small-3.2-24B-Instruct-2506
# expect-tp: 2

set -euo pipefail

REPO_ID="somelab/vllm-sif"
LOCAL_DIR="${SLURM_TMPDIR:-/var/tmp/$USER/vllm-sif}"
SIF_NAME="vllm-0.12.0-cu129.sif"
MODEL_DIR=$WORK/llm

mkdir -p "$LOCAL_DIR"
if [ ! -f "$LOCAL_DIR/$SIF_NAME" ]; then
    hf download "$REPO_ID" "$SIF_NAME" --repo-type dataset --local-dir "$LOCAL_DIR"
fi

apptainer exec --nv \
    --bind "$MODEL_DIR:/models:ro" \
    --bind "$LOCAL_DIR:/scratch" \
    "$LOCAL_DIR/$SIF_NAME" \
    vllm serve /models/Mistral-Small-3.2-24B-Instruct-2506 \
        --tokenizer-mode mistral --config-format mistral --load-format mistral \
        --tensor-parallel-size 2 \
        --port 8000
