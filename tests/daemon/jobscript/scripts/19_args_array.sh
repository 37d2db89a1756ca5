#!/bin/bash
#SBATCH --partition=h200
#SBATCH --gres=gpu:h200:4
#SBATCH --time=08:00:00

MODEL=meta-llama/Llama-3.1-70B-Instruct
ARGS=(
  --tensor-parallel-size 4
  --max-model-len 16384
  --max-num-seqs 128
)

vllm serve "$MODEL" "${ARGS[@]}"
