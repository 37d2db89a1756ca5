#!/bin/bash
#SBATCH --gres=gpu:l40s:1
#SBATCH --time=01:00:00

export HF_HUB_OFFLINE=1
SNAP=$HF_HOME/hub/models--Qwen--Qwen2.5-3B-Instruct/snapshots/aa8e72537993ba99e69dfaafa59ed015b17504d1
vllm serve $SNAP --served-model-name Qwen2.5-3B --max-model-len 4096
