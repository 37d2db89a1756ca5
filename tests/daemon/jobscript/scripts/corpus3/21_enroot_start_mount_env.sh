#!/bin/bash
#SBATCH --job-name=seed-oss
#SBATCH --gres=gpu:h100:2
#SBATCH --time=12:00:00
# expect-launch: yes
# expect-model: /lustre/models/Seed-OSS-36B-Instruct
# expect-tp: 2

enroot import -o $SCRATCH/vllm-0.11.sqsh docker://vllm/vllm-openai:v0.11.0 || true
enroot create --force --name vllm-0.11 $SCRATCH/vllm-0.11.sqsh
enroot start --root --rw \
    --env HF_TOKEN \
    --mount /lustre/models:/models \
    vllm-0.11 \
    vllm serve /models/Seed-OSS-36B-Instruct --tensor-parallel-size 2 --trust-remote-code --max-model-len 65536
