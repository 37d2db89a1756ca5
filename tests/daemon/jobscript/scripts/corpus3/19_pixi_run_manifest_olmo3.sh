#!/bin/bash
#SBATCH --job-name=olmo3
#SBATCH --partition=gpu
#SBATCH --gres=gpu:h100:1
#SBATCH --time=06:00:00
# expect-launch: yes
# expect-model: allenai/Olmo-3-7B-Instruct
# expect-tp: 1

MANIFEST=$HOME/envs/vllm/pixi.toml
pixi run --manifest-path "$MANIFEST" --frozen vllm serve allenai/Olmo-3-7B-Instruct \
    --max-model-len 65536 --port 8004
