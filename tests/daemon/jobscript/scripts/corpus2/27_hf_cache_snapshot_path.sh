#!/bin/bash
#SBATCH --job-name=q3-awq
#SBATCH --gres=gpu:a100:1
#SBATCH --time=04:00:00
# expect-launch: yes
# expect-model: /scratch/$USER/hf/hub/models--Qwen--Qwen3-32B-AWQ/snapshots/9c2a4e1b7d3f
# expect-tp: 1

export HF_HOME=/scratch/$USER/hf
export HF_HUB_OFFLINE=1
SNAP=$HF_HOME/hub/models--Qwen--Qwen3-32B-AWQ/snapshots/9c2a4e1b7d3f

source ~/venvs/vllm/bin/activate
vllm serve "$SNAP" --quantization awq_marlin --max-model-len 16384 --served-model-name qwen3-32b-awq
