#!/bin/bash
#SBATCH --job-name=coder32
#SBATCH --gres=gpu:4
#SBATCH --time=05:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen2.5-Coder-32B-Instruct
# expect-tp: 4

envrun run --profile gpu --quiet -- vllm serve Qwen/Qwen2.5-Coder-32B-Instruct -tp 4 --port 8200
