#!/bin/bash
#SBATCH --job-name=diag
#SBATCH --gres=gpu:1
#SBATCH --time=00:10:00
# expect-launch: no

source ~/venvs/vllm/bin/activate
nvidia-smi
vllm --version
python -m vllm.collect_env > env_report.txt
vllm collect-env >> env_report.txt
