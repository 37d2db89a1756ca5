#!/bin/bash
#SBATCH --job-name=dl-and-serve
#SBATCH --nodes=1
#SBATCH --gres=gpu:2
#SBATCH --time=08:00:00
# expect-launch: yes
# expect-model: $WORK/models/Qwen2.5-7B-Instruct
# expect-tp: 2

REPO=Qwen/Qwen2.5-7B-Instruct
LOCAL_DIR=$WORK/models/Qwen2.5-7B-Instruct
mkdir -p "$LOCAL_DIR"
huggingface-cli download $REPO --local-dir $LOCAL_DIR

python -m vllm.entrypoints.openai.api_server --model $LOCAL_DIR --tensor-parallel-size 2 --port 8000
