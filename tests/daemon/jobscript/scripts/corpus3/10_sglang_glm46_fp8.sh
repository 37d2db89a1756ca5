#!/bin/bash
#SBATCH --job-name=sglang-server
#SBATCH --output=log/sglang_glm_%j.log
#SBATCH --nodes=1
#SBATCH -c 32
#SBATCH --gres=gpu:nvidia_h200:4
#SBATCH --mem=512G
#SBATCH --time=6-23:30:00
# expect-launch: no

# switched from vllm to sglang for GLM-4.6 (better MTP support)
PORT=12003
MODEL_PATH=/n/netscratch/lab/models/GLM-4.6-FP8
TP_SIZE=4

source /n/lab/envs/sglang/bin/activate
python3 -m sglang.launch_server \
    --model-path $MODEL_PATH \
    --tp $TP_SIZE \
    --port $PORT \
    --host 0.0.0.0 \
    --mem-fraction-static 0.85 \
    --tool-call-parser glm45 \
    --reasoning-parser glm45
