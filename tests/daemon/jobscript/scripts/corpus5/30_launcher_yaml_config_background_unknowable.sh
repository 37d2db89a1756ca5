#!/bin/bash
#SBATCH --job-name=mn5-vllm
#SBATCH --qos=acc_bsccs
#SBATCH --nodes=1
#SBATCH --gres=gpu:4
#SBATCH --cpus-per-task=80
#SBATCH --time=04:00:00
# expect-launch: unknowable

module load cuda/12.8 python/3.12
source $HOME/vllm-launcher/.venv/bin/activate

CONFIG=${1:-config/qwen3_32b.yaml}
vllm-marenostrum "$CONFIG" --background
python run_pipeline.py --endpoint http://localhost:8000/v1
