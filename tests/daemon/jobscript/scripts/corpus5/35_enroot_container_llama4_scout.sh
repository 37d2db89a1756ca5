#!/bin/bash
#SBATCH --job-name=scout
#SBATCH --nodes=1
#SBATCH --gpus-per-node=8
#SBATCH --exclusive
#SBATCH --time=10:00:00
# expect-launch: yes
# expect-model: meta-llama/Llama-4-Scout-17B-16E-Instruct
# expect-tp: 8

export ENROOT_DATA_PATH=$SCRATCH/enroot
CONTAINER_NAME=vllm012
if ! enroot list | grep -q "^${CONTAINER_NAME}\$"; then
    enroot create --name $CONTAINER_NAME $SCRATCH/sqsh/vllm-openai-v0.12.0.sqsh
fi

enroot start --rw \
    --mount $SCRATCH/hf:/root/.cache/huggingface \
    --env HF_TOKEN \
    $CONTAINER_NAME \
    vllm serve meta-llama/Llama-4-Scout-17B-16E-Instruct \
        --tensor-parallel-size 8 \
        --max-model-len 430000 \
        --override-generation-config='{"attn_temperature_tuning": true}'
