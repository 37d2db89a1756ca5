#!/bin/bash
#SBATCH --job-name=mistral-small
#SBATCH --gres=gpu:a100:2
#SBATCH --time=08:00:00
# expect-launch: yes
# expect-model: mistralai/Mistral-Small-3.2-24B-Instruct-2506
# expect-tp: 2

: "${MODEL:=mistralai/Mistral-Small-3.2-24B-Instruct-2506}"
: ${TP:=2}
: "${PORT:=8000}"

module load python/3.12
source ~/venvs/vllm/bin/activate
vllm serve "$MODEL" \
  --tokenizer-mode mistral --config-format mistral --load-format mistral \
  --tool-call-parser mistral --enable-auto-tool-choice \
  --tensor-parallel-size "$TP" --port "$PORT"
