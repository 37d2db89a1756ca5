#!/bin/bash
#SBATCH --gres=gpu:1
#SBATCH --time=01:00:00

python -m venv ~/venvs/new
source ~/venvs/new/bin/activate
pip install -U pip
pip install vllm==0.6.3 transformers
python train_lora.py --epochs 3
