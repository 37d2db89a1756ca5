#!/bin/bash
#SBATCH --gres=gpu:a100_80gb:4
#SBATCH --time=12:00:00
set -eo pipefail

MODEL="meta-llama/Llama-3.1-70B-Instruct"
CTX=16384
TP=4
LAUNCH="srun --ntasks=1 vllm serve ${MODEL} \
    --max-model-len ${CTX} \
    --tensor-parallel-size ${TP} \
    --max-num-seqs 64"
eval "$LAUNCH"
