#!/bin/bash
#SBATCH --job-name=specdec
#SBATCH --gres=gpu:4
#SBATCH --time=04:00:00
# expect-launch: yes
# expect-model: /data/shared/huggingface/hub/models--meta-llama--Llama-3.3-70B-Instruct/snapshots/6f6073b423013f6a7d4d9f39144961bfbfbc386b
# expect-tp: 4

source /home/lab/miniconda3/etc/profile.d/conda.sh
conda activate vllm

HUB=/data/shared/huggingface/hub
MODEL=$HUB/models--meta-llama--Llama-3.3-70B-Instruct/snapshots/6f6073b423013f6a7d4d9f39144961bfbfbc386b
DRAFT=$HUB/models--meta-llama--Llama-3.2-1B-Instruct/snapshots/9213176726f574b556790deb65791e0c5aa438b6

python3 -m vllm.entrypoints.openai.api_server \
    --model $MODEL \
    --speculative-config "{\"method\": \"draft_model\", \"model\": \"$DRAFT\", \"num_speculative_tokens\": 5}" \
    --tensor-parallel-size 4 \
    --gpu-memory-utilization 0.7 \
    --port 40020
