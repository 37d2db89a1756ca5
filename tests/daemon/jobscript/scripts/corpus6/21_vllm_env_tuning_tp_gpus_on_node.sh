#!/bin/bash
#SBATCH --job-name=r1-distill
#SBATCH --gres=gpu:2
#SBATCH --mem=100G
#SBATCH --qos=short
# expect-launch: yes
# expect-model: deepseek-ai/DeepSeek-R1-Distill-Qwen-32B
# expect-tp: 2

module load python/3.11 cuda/12.8
source kg_venv/bin/activate
export VLLM_USE_V1=1
export VLLM_WORKER_MULTIPROC_METHOD=spawn
export VLLM_ALLOW_LONG_MAX_MODEL_LEN=1
export VLLM_LOGGING_LEVEL=INFO

vllm serve deepseek-ai/DeepSeek-R1-Distill-Qwen-32B --max-model-len 35904 --tensor-parallel-size $SLURM_GPUS_ON_NODE
