#!/bin/bash -l
#SBATCH --job-name=llama8b
#SBATCH --partition=gpu
#SBATCH --gres=gpu:1
#SBATCH --time=1-00:00:00
# expect-launch: yes
# expect-model: meta-llama/Llama-3.1-8B-Instruct
# expect-tp: 1

source ${HOME}/.bashrc
conda activate base

export MODEL=meta-llama/Llama-3.1-8B-Instruct
export PORT=$((8000 + SLURM_JOB_ID % 1000))

vllm serve "${MODEL}" --port "${PORT}" --dtype bfloat16 --enable-prefix-caching
