#!/bin/bash
#SBATCH --job-name=sft
#SBATCH --gres=gpu:4
#SBATCH --time=24:00:00
# expect-launch: no

# step 1 (done by hand earlier):
#   vllm serve Qwen/Qwen3-8B --tensor-parallel-size 4
# step 2: fine-tune on the generated data
torchrun --nproc_per_node 4 train_sft.py --model Qwen/Qwen3-8B --data gen.jsonl
