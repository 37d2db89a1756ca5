#!/bin/bash
#SBATCH --gres=gpu:h200:1
#SBATCH --time=06:00:00

# installed with `pipx install vllm`
~/.local/bin/vllm serve google/gemma-2-9b-it --max-model-len 8192 --max-num-seqs 32 &
SERVER=$!
sleep 120
python3 eval_chat.py --base-url http://localhost:8000/v1
kill $SERVER
