#!/bin/bash
#SBATCH --partition=gpu
#SBATCH --exclusive
#SBATCH --time=08:00:00

NGPUS=$(nvidia-smi -L | wc -l)
echo "found $NGPUS GPUs"
vllm serve Qwen/Qwen2.5-32B-Instruct -tp ${NGPUS} --max-model-len 16384
