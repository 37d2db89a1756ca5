#!/bin/bash
#SBATCH --job-name=qwen3-vl
#SBATCH --gpus=h100:2
#SBATCH --time=08:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen3-VL-30B-A3B-Instruct
# expect-tp: 2

source activate vlm
export VLLM_WORKER_MULTIPROC_METHOD=spawn
vllm serve Qwen/Qwen3-VL-30B-A3B-Instruct \
    --tensor-parallel-size 2 \
    --limit-mm-per-prompt.video 0 \
    --mm-encoder-tp-mode data \
    --max-model-len 128k \
    --enable-auto-tool-choice \
    --tool-call-parser hermes
