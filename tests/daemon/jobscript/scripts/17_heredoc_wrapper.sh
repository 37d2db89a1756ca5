#!/bin/bash
#SBATCH --partition=h100
#SBATCH --gres=gpu:h100:2
#SBATCH --time=04:00:00

srun bash <<'EOF'
source /opt/venvs/vllm/bin/activate
vllm serve Qwen/Qwen2.5-14B-Instruct --tensor-parallel-size 2 --max-model-len 8192
EOF
