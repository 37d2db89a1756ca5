#!/bin/bash
#SBATCH --gres=gpu:h100:1
#SBATCH --time=03:10:00

timeout 3h numactl --cpunodebind=0 --membind=0 vllm serve meta-llama/Llama-3.1-8B-Instruct \
    --max-model-len 8192 --max-num-seqs 256
