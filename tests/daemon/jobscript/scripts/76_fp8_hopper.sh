#!/bin/bash
#SBATCH --partition=h100
#SBATCH --gres=gpu:h100:2
#SBATCH --time=08:00:00

vllm serve meta-llama/Llama-3.1-70B-Instruct --quantization=fp8 --kv-cache-dtype fp8_e4m3 \
    --tensor-parallel-size 2 --max-model-len 16384
