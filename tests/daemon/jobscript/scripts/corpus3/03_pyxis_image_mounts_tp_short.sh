#!/bin/bash
#SBATCH --job-name=vllm-pyxis
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=2
#SBATCH --time=04:00:00

# expect-launch: yes
# expect-model: /lustre/fsw/portfolios/llm/models/Qwen3-32B
# expect-tp: 2

IMAGE=vllm/vllm-openai:v0.11.0
MODELS=/lustre/fsw/portfolios/llm/models

srun --container-image=$IMAGE \
     --container-mounts=$MODELS:/models,$HOME/.cache:/root/.cache \
     --container-workdir=/models \
     --no-container-mount-home \
     vllm serve /models/Qwen3-32B -tp 2 --port 8000 --max-model-len 40960
