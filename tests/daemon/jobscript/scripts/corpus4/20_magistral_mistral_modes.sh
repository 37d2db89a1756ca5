#!/bin/bash
#SBATCH --job-name=magistral
#SBATCH --gres=gpu:l40s:2
#SBATCH --time=05:00:00
# expect-launch: yes
# expect-model: mistralai/Magistral-Small-2509
# expect-tp: 2

module load vllm/0.10.2
vllm serve mistralai/Magistral-Small-2509 \
  --reasoning-parser mistral \
  --tokenizer_mode mistral --config_format mistral --load_format mistral \
  --tool-call-parser mistral --enable-auto-tool-choice \
  --tensor-parallel-size 2 --max-model-len 40960
