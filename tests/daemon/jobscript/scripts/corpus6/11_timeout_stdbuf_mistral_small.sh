#!/bin/bash
#SBATCH --job-name=mistral-small
#SBATCH --gres=gpu:2
#SBATCH --time=24:00:00
# expect-launch: yes
# expect-model: mistralai/Mistral-Small-3.2-24B-Instruct-2506
# expect-tp: 2

source $HOME/miniforge3/bin/activate vllm
timeout 23h stdbuf -oL -eL vllm serve mistralai/Mistral-Small-3.2-24B-Instruct-2506 \
    --tokenizer-mode mistral --config-format mistral --load-format mistral \
    --tensor-parallel-size 2 --tool-call-parser mistral --enable-auto-tool-choice \
    2>&1 | tee logs/mistral-$SLURM_JOB_ID.log
