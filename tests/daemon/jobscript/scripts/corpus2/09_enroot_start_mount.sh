#!/bin/bash
#SBATCH --job-name=gemma3
#SBATCH --gres=gpu:2
#SBATCH --time=03:00:00
# expect-launch: yes
# expect-model: /data/models/gemma-3-27b-it
# expect-tp: 2

enroot create --name vllm-serve /data/images/vllm-openai.sqsh || true
enroot start --rw --mount /data/models/gemma-3-27b-it:/models/gemma vllm-serve \
    vllm serve /models/gemma --tensor-parallel-size 2 --max-model-len 16384
