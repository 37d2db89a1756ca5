#!/bin/bash
#SBATCH --job-name=gemma3-dl-serve
#SBATCH --partition=gpu
#SBATCH --gres=gpu:a100:2
#SBATCH --time=06:00:00
# expect-launch: yes
# expect-model: /scratch/proj0412/models/gemma-3-27b-it
# expect-tp: 2

set -euo pipefail
source ~/venvs/serve/bin/activate

MODEL_ID=google/gemma-3-27b-it
MODEL_DIR=/scratch/proj0412/models/gemma-3-27b-it

if [ ! -f "$MODEL_DIR/config.json" ]; then
    huggingface-cli download "$MODEL_ID" --local-dir "$MODEL_DIR" --exclude "*.gguf"
fi

python -m vllm.entrypoints.openai.api_server \
    --model "$MODEL_DIR" \
    --served-model-name gemma3 \
    --tensor-parallel-size 2 \
    --max-model-len 32768
