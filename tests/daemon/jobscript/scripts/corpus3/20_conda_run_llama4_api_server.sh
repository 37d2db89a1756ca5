#!/bin/bash
#SBATCH --job-name=scout
#SBATCH --nodes=1
#SBATCH --gres=gpu:h200:8
#SBATCH --exclusive
#SBATCH --time=2-00:00:00
# expect-launch: yes
# expect-model: meta-llama/Llama-4-Scout-17B-16E-Instruct
# expect-tp: 8

module load anaconda3
conda run -n vllm-0.11 --no-capture-output \
  python -m vllm.entrypoints.openai.api_server \
    --model meta-llama/Llama-4-Scout-17B-16E-Instruct \
    --tensor-parallel-size 8 \
    --max-model-len 131072 \
    --override-generation-config='{"attn_temperature_tuning": true}'
