#!/bin/bash
#SBATCH --job-name=ministral
#SBATCH --gres=gpu:l40s:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=40G
#SBATCH --time=06:00:00
# expect-launch: yes
# expect-model: mistralai/Ministral-8B-Instruct-2410
# expect-tp: 1

module load miniconda3
conda run -n vllm-0.11 --no-capture-output \
    python -m vllm.entrypoints.openai.api_server \
    --model mistralai/Ministral-8B-Instruct-2410 \
    --tokenizer_mode mistral --config_format mistral --load_format mistral \
    --max-model-len 32768 --port 8080
