#!/bin/bash
#SBATCH --gres=gpu:h100:2
#SBATCH --time=04:00:00

python -m vllm.entrypoints.openai.api_server --model=$(cat $SLURM_SUBMIT_DIR/model.txt) \
    --tensor-parallel-size 2 --max-model-len 8192
