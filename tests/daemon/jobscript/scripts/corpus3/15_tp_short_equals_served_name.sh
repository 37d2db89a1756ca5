#!/bin/bash
#SBATCH --job-name=glm-air
#SBATCH --gres=gpu:h100:8
#SBATCH --time=12:00:00
# expect-launch: yes
# expect-model: /data/models/GLM-4.5-Air
# expect-tp: 4

set -e
source /data/envs/vllm/bin/activate
vllm serve /data/models/GLM-4.5-Air --served-model-name=glm --trust-remote-code --max-model-len=8192 --gpu-memory-utilization=0.95 --data-parallel-size 2 -tp=4 --enable-expert-parallel --block_size 128
