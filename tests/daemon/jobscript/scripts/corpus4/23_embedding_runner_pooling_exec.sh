#!/bin/bash
#SBATCH --job-name=vl-embed
#SBATCH --gres=gpu:1
#SBATCH --time=12:00:00
# expect-launch: yes
# expect-model: /home/steve/models/granite-vision-doc
# expect-tp: 1
# expect-scope: out

MODEL_DIR=/home/steve/models/granite-vision-doc
cd "$MODEL_DIR" && exec /home/steve/miniforge3/envs/vllm/bin/vllm serve \
    "$MODEL_DIR" \
    --host 0.0.0.0 \
    --port 8004 \
    --max-model-len 2048 \
    --dtype float16 \
    --runner pooling
