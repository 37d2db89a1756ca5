#!/bin/bash
#SBATCH --job-name=shards
#SBATCH --gres=gpu:4
#SBATCH --cpus-per-task=32
#SBATCH --time=10:00:00
# expect-launch: no

source ~/venvs/vllm/bin/activate
export VLLM_WORKER_MULTIPROC_METHOD=spawn
# one offline vLLM engine per GPU, one shard each
parallel -j 4 --line-buffer 'CUDA_VISIBLE_DEVICES=$(({%}-1)) python infer_vllm.py --model Qwen/Qwen3-8B --shard {} --num-shards 4' ::: 0 1 2 3
