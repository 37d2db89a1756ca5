#!/bin/bash
#SBATCH --gres=gpu:a100:1
#SBATCH --cpus-per-task=16

env -u CUDA_LAUNCH_BLOCKING HF_HUB_OFFLINE=1 nice -n 5 stdbuf -oL taskset -c 0-15 \
    python3 -m vllm.entrypoints.openai.api_server --model microsoft/Phi-3-medium-4k-instruct --max-num-seqs 16
