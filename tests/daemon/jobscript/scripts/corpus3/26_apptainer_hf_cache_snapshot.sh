#!/bin/bash
#SBATCH --job-name=gemma3-27b
#SBATCH --gres=gpu:a100:2
#SBATCH --time=08:00:00
# expect-launch: yes
# expect-model: /scratch/shared/hf/hub/models--google--gemma-3-27b-it/snapshots/005ad3404e59d6023443cb575daa05336842228a
# expect-tp: 2

SIF=/scratch/shared/containers/vllm-openai_v0.11.0.sif
HF_ROOT=/scratch/shared/hf
REV=005ad3404e59d6023443cb575daa05336842228a

apptainer exec --nv --cleanenv \
  -B "$HF_ROOT:/hf" \
  --env HF_HUB_OFFLINE=1,HF_HOME=/hf \
  "$SIF" \
  vllm serve /hf/hub/models--google--gemma-3-27b-it/snapshots/$REV -tp 2 --max-model-len 32768
