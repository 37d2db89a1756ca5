#!/bin/bash
#SBATCH --job-name=pick
#SBATCH --gres=gpu:h100:4
#SBATCH --time=08:00:00
# expect-launch: yes
# expect-model: /weights/Llama-3.1-70B-Instruct
# expect-tp: 4

declare -A CKPT
CKPT[llama]=/weights/Llama-3.1-70B-Instruct
CKPT[qwen]=/weights/Qwen2.5-72B-Instruct
CKPT[mistral]=/weights/Mistral-Large-Instruct-2411

WHICH="llama"
MODEL_PATH=${CKPT[$WHICH]}

vllm serve "$MODEL_PATH" --tensor-parallel-size 4 --max-model-len 16384
