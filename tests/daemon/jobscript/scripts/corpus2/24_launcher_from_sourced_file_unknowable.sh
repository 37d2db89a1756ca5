#!/bin/bash
#SBATCH -J serve-any
#SBATCH --gres=gpu:1
#SBATCH -t 02:00:00
# expect-launch: unknowable

source ./settings.sh   # sets LAUNCHER and MODEL_ID
"$LAUNCHER" serve_model.py --engine vllm --model "$MODEL_ID"
