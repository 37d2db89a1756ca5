#!/bin/bash
#SBATCH --gres=gpu:h100:1
#SBATCH --time=01:00:00

# newer vLLM accepts the model either positionally or with --model
vllm serve --model Qwen/Qwen3-8B --max-model-len 32768 --max-num-seqs 64
