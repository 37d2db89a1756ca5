#!/bin/bash
#SBATCH --job-name=coder
#SBATCH --account=def-lab
#SBATCH --time=04:00:00
#SBATCH --nodes=1
#SBATCH --mem=256G
#SBATCH --gres=gpu:h100:2
#SBATCH --output=logs/%x-%A.out
# expect-launch: yes
# expect-model: /home/kim/scratch/checkpoints/Qwen3-Coder-30B-A3B-Instruct
# expect-tp: 2

cd ~/work/agent
source .venv/bin/activate

NGPU=$(nvidia-smi --list-gpus | wc -l)
CKPT="/home/kim/scratch/checkpoints/Qwen3-Coder-30B-A3B-Instruct"

vllm serve ${CKPT} \
    --host 127.0.0.1 \
    --port 8011 \
    --tensor-parallel-size ${NGPU} \
    --gpu-memory-utilization 0.9 \
    --max-model-len 131072 \
    --enable-auto-tool-choice \
    --tool-call-parser qwen3_coder
