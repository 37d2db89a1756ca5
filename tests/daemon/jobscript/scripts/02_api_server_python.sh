#!/usr/bin/env bash
#SBATCH -J llama31-8b
#SBATCH -p gpu
#SBATCH --gpus=1
#SBATCH -t 2:00:00
set -euo pipefail

module purge
module load cuda/12.4 python/3.11
source $HOME/envs/vllm/bin/activate

python -m vllm.entrypoints.openai.api_server --model meta-llama/Llama-3.1-8B-Instruct --tensor-parallel-size 1 --dtype bfloat16 --max-num-seqs 256 --host 0.0.0.0
