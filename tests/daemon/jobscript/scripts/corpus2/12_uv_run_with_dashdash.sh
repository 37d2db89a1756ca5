#!/bin/bash
#SBATCH --job-name=gemma12
#SBATCH --gres=gpu:a100:1
#SBATCH --time=02:00:00
# expect-launch: yes
# expect-model: google/gemma-3-12b-it
# expect-tp: 1

cd "$SLURM_SUBMIT_DIR"
uv run --with "vllm==0.10.1" -- vllm serve google/gemma-3-12b-it --max-model-len 8192 --port 8100
