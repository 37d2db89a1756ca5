#!/bin/bash
#SBATCH -J qwen3-32b-srv
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=32
#SBATCH --gres=gpu:8
#SBATCH --output=logs/%x_%j.out
# expect-launch: yes
# expect-model: /mnt/shared/llm/weights/Qwen3-32B
# expect-tp: 8

echo "starting the Qwen3-32B endpoint on $(hostname)"
source /mnt/shared/miniconda3/etc/profile.d/conda.sh
conda activate serve

export VLLM_USE_MODELSCOPE=false
WEIGHTS="/mnt/shared/llm/weights/Qwen3-32B"

vllm serve $WEIGHTS --served-model-name qwen3-32b --host 0.0.0.0 --port 8000 \
    --tensor-parallel-size $SLURM_GPUS_ON_NODE
