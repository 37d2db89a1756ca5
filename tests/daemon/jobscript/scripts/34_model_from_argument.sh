#!/bin/bash
#SBATCH --gres=gpu:a100:1
#SBATCH --time=04:00:00
# usage: sbatch 34_model_from_argument.sh /path/to/model

MODEL_PATH=$1
vllm serve $MODEL_PATH --max-num-seqs 32
