#!/bin/bash
#SBATCH --job-name=ngc-vllm
#SBATCH --partition=batch
#SBATCH --gres=gpu:h100:1
#SBATCH --cpus-per-task=16
#SBATCH --time=01:00:00
# expect-launch: yes
# expect-model: nvidia/Llama-3.1-8B-Instruct-FP8
# expect-tp: 1

IMAGE="nvcr.io#nvidia/vllm:25.10-py3"
CACHE=$SCRATCH/hf-cache

srun --container-image="$IMAGE" \
     --container-mounts="$CACHE:/root/.cache/huggingface" \
     --container-env=HF_TOKEN \
     --no-container-mount-home \
     bash -c 'export VLLM_ATTENTION_BACKEND=FLASHINFER; python3 -m vllm.entrypoints.openai.api_server --model nvidia/Llama-3.1-8B-Instruct-FP8 --trust-remote-code --port 8000'
