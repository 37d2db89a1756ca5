#!/bin/bash
#SBATCH --job-name=serve-current
#SBATCH --gres=gpu:4
#SBATCH --time=24:00:00
# expect-launch: yes
# expect-model: unknown
# expect-tp: 4

cd "$SLURM_SUBMIT_DIR"
# current.txt holds the checkpoint the team evaluates this week
read -r MODEL < current.txt

vllm serve "$MODEL" --tensor-parallel-size 4 --gpu-memory-utilization 0.92
