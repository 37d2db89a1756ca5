#!/bin/bash
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --gres=gpu:a100:1
#SBATCH --time=0-06:00

eval "$(conda shell.bash hook)"
conda activate vllm-0.5

# old-style server (no OpenAI routes)
python3 -u -m vllm.entrypoints.api_server --model=mistralai/Mistral-7B-Instruct-v0.2 -tp 1 --port 9000
