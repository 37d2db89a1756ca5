#!/bin/bash
#SBATCH -p h100
#SBATCH --gpus-per-node=1
#SBATCH -t 4:00:00

vllm serve neuralmagic/Meta-Llama-3.1-8B-Instruct-FP8 --max-model-len 16384 --max-num-seqs 512
