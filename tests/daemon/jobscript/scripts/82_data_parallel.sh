#!/bin/bash
#SBATCH --gres=gpu:h100:8
#SBATCH --time=08:00:00

vllm serve Qwen/Qwen2.5-14B-Instruct --data-parallel-size 4 --tensor-parallel-size 2 --max-num-seqs 512
