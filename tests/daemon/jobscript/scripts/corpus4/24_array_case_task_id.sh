#!/bin/bash
#SBATCH --job-name=olmo-sweep
#SBATCH --array=0-1
#SBATCH --gres=gpu:2
#SBATCH --time=10:00:00
# expect-launch: yes
# expect-model: unknown
# expect-tp: 2

case $SLURM_ARRAY_TASK_ID in
  0) MODEL=allenai/Olmo-3-7B-Instruct ;;
  1) MODEL=allenai/Olmo-3-32B-Think ;;
esac

vllm serve $MODEL --tensor-parallel-size 2 --port $((8000 + SLURM_ARRAY_TASK_ID))
