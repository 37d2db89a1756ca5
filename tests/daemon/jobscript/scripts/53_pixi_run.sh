#!/bin/bash
#SBATCH --gres=gpu:h100:1
#SBATCH --time=02:00:00

cd ~/projects/serving
pixi run --manifest-path ~/projects/serving/pixi.toml --environment cuda \
  vllm serve allenai/OLMo-2-1124-7B-Instruct --dtype bfloat16 --max-num-seqs 48
