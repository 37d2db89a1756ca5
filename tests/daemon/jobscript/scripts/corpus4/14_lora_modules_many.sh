#!/bin/bash
#SBATCH --job-name=lora-serve
#SBATCH --gres=gpu:h100:4
#SBATCH --time=08:00:00
# expect-launch: yes
# expect-model: meta-llama/Llama-3.3-70B-Instruct
# expect-tp: 4

export VLLM_ALLOW_RUNTIME_LORA_UPDATING=True
ADAPTERS=/work/runs/adapters

vllm serve meta-llama/Llama-3.3-70B-Instruct \
    --dtype auto \
    --max-model-len 16000 \
    --tensor-parallel-size 4 \
    --enable-prefix-caching \
    --enable-lora \
    --max-lora-rank 64 \
    --max-loras 3 \
    --lora-modules facts-a=$ADAPTERS/facts-a \
        facts-b=$ADAPTERS/facts-b \
        facts-c=$ADAPTERS/facts-c \
    --port 8000
