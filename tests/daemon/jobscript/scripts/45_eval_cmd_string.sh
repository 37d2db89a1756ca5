#!/bin/bash
#SBATCH --job-name=r1-distill-32b
#SBATCH --partition=h100
#SBATCH --gres=gpu:h100:8
#SBATCH --time=24:00:00

module load cuda/12.4
source ~/venvs/vllm/bin/activate

ARGS="--tensor-parallel-size 8 --max-model-len 65536"
CMD="vllm serve deepseek-ai/DeepSeek-R1-Distill-Qwen-32B $ARGS"
echo "Running: $CMD"
eval $CMD
