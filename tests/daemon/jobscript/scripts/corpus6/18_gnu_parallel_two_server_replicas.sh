#!/bin/bash
#SBATCH --job-name=qwen-replicas
#SBATCH --gres=gpu:2
#SBATCH --time=05:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen3-4B
# expect-tp: 1

source ~/venvs/vllm/bin/activate
parallel -j 2 --line-buffer 'CUDA_VISIBLE_DEVICES={} vllm serve Qwen/Qwen3-4B --port 80{}0 --max-num-seqs 128' ::: 0 1
