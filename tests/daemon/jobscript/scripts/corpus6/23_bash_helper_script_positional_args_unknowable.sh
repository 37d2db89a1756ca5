#!/bin/bash
#SBATCH --partition=hpc-mid
#SBATCH --gres=gpu:4
#SBATCH --time=96:00:00
#SBATCH --job-name=h100_vllm_server
# expect-launch: unknowable

source ~/miniconda3/bin/activate
conda activate vllm
# the server command lives in the helper script; it is given GPUs, host, port and model
bash vllm_serve/vllm_server.sh $CUDA_VISIBLE_DEVICES "0.0.0.0" 8002 "openai/gpt-oss-120b"
