#!/bin/bash
#SBATCH --job-name=l70-awq
#SBATCH --partition=gpu
#SBATCH --gres=gpu:a100:2
#SBATCH --cpus-per-task=16
#SBATCH --mem=128G
#SBATCH --time=1-00:00:00
# expect-launch: yes
# expect-model: $WORK/models/Llama-3.1-70B-Instruct-AWQ-INT4
# expect-tp: 2

module load apptainer
SIF=$WORK/sif/vllm-openai-0.11.2.sif

apptainer exec --nv --bind $WORK/models:/models $SIF \
  vllm serve /models/Llama-3.1-70B-Instruct-AWQ-INT4 \
    --served-model-name helium \
    --max-model-len 32768 \
    --max-num-seqs 16 \
    --gpu-memory-utilization 0.95 \
    --seed 20240915 \
    --tensor-parallel-size 2 \
    --enable-prefix-caching \
    --host 0.0.0.0 --port 8000
