#!/bin/bash
#SBATCH --job-name=glm-air-fp8
#SBATCH --gres=gpu:h100:4
#SBATCH --time=12:00:00
# expect-launch: yes
# expect-model: zai-org/GLM-4.5-Air-FP8
# expect-tp: 4

set -a
source .env          # HF_TOKEN, WANDB_API_KEY
set +a
source .venv/bin/activate
vllm serve zai-org/GLM-4.5-Air-FP8 --tensor-parallel-size 4 --tool-call-parser glm45 --reasoning-parser glm45 --enable-auto-tool-choice
