#!/bin/bash
#SBATCH --job-name=q3-14b
#SBATCH --gres=gpu:2
#SBATCH --time=04:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen3-14B
# expect-tp: 2

# one line to edit: model and TP
read -r MODEL TP <<< "Qwen/Qwen3-14B 2"

source /opt/envs/vllm/bin/activate
vllm serve "$MODEL" -tp "$TP" --max-model-len 16384
