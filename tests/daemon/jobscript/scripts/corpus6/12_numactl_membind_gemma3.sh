#!/bin/bash
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=32
#SBATCH --gpus=2
#SBATCH --time=08:00:00
# expect-launch: yes
# expect-model: google/gemma-3-27b-it
# expect-tp: 2

module load cuda/12.8
source .venv/bin/activate
# GPUs 0-1 hang off socket 0 on these nodes
numactl --cpunodebind=0 --membind=0 vllm serve google/gemma-3-27b-it -tp 2 --max-model-len 65536 --port 8000
