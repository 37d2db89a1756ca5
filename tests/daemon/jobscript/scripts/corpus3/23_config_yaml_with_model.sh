#!/bin/bash
#SBATCH --job-name=q3-32b-fp8
#SBATCH --gres=gpu:h100:2
#SBATCH --time=08:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen3-32B-FP8
# expect-tp: unknown

source $HOME/venvs/vllm/bin/activate
vllm serve Qwen/Qwen3-32B-FP8 --config $HOME/configs/serve.yaml --port 8000
