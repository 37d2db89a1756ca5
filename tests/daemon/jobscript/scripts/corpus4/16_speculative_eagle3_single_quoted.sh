#!/bin/bash
#SBATCH --job-name=eagle3
#SBATCH --gres=gpu:1
#SBATCH --time=02:00:00
# expect-launch: yes
# expect-model: meta-llama/Llama-3.1-8B-Instruct
# expect-tp: 1

vllm serve meta-llama/Llama-3.1-8B-Instruct \
  --served-model-name llama-fast \
  --speculative-config '{"method": "eagle3", "model": "yuhuili/EAGLE3-LLaMA3.1-Instruct-8B", "num_speculative_tokens": 3}' \
  --tool-call-parser llama3_json --enable-auto-tool-choice \
  --seed 42
