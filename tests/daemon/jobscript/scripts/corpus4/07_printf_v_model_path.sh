#!/bin/bash
#SBATCH --job-name=mistral-small
#SBATCH --gres=gpu:h100:2
#SBATCH --time=10:00:00
# expect-launch: yes
# expect-model: /shared/models/mistralai/Mistral-Small-3.2-24B-Instruct-2506
# expect-tp: 2

ROOT=/shared/models
printf -v MODEL_PATH '%s/%s/%s' "$ROOT" mistralai Mistral-Small-3.2-24B-Instruct-2506

vllm serve "$MODEL_PATH" \
  --tokenizer-mode mistral --config-format mistral --load-format mistral \
  --tool-call-parser mistral --enable-auto-tool-choice \
  --tensor-parallel-size 2
