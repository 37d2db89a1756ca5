#!/bin/bash
#SBATCH --gres=gpu:1
#SBATCH --time=01:00:00
# TODO: move this to vllm serve once the new checkpoint is ready

python finetune.py --config configs/llama.yaml
