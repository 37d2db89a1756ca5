#!/bin/bash
#SBATCH --job-name=gemma-small
#SBATCH --gres=gpu:1
#SBATCH --time=01:00:00
# expect-launch: yes
# expect-model: google/gemma-3-4b-it
# expect-tp: 1

CANDIDATES=(google/gemma-3-1b-it google/gemma-3-4b-it google/gemma-3-12b-it)
PICK=1

vllm serve ${CANDIDATES[$PICK]} --max-model-len 8192
