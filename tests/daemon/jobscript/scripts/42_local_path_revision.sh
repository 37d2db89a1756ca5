#!/bin/bash
#SBATCH --gres=gpu:h100:1
#SBATCH --time=01:00:00

CKPT_ROOT=/lustre/project/shared/checkpoints
vllm serve "${CKPT_ROOT}/gemma-2-9b-it/main" --served-model-name gemma --max-num-seqs=48
