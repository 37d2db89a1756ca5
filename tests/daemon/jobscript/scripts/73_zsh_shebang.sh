#!/usr/bin/env zsh
#SBATCH --gres=gpu:a100:1
#SBATCH --time=02:00:00

setopt err_exit
typeset MODEL=deepseek-ai/DeepSeek-R1-Distill-Qwen-7B
vllm serve ${MODEL} --max-model-len 16384 --max-num-seqs 32
