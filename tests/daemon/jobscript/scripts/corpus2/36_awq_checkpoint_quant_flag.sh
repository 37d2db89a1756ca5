#!/bin/bash
#SBATCH --job-name=q3-32b-awq
#SBATCH --gres=gpu:l40s:2
#SBATCH --time=06:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen3-32B-AWQ
# expect-tp: 2

module purge
module load python/3.11 cuda/12.4
source /opt/venvs/vllm-0.9/bin/activate
vllm serve Qwen/Qwen3-32B-AWQ --quantization awq_marlin -tp 2 --max-model-len 16384 --enable-reasoning --reasoning-parser qwen3
