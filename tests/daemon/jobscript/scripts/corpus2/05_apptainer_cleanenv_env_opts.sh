#!/bin/bash
#SBATCH --job-name=l33-70b
#SBATCH -t 48:00:00
#SBATCH -p scc-gpu
#SBATCH -c 16
#SBATCH --gres=gpu:a100:4
#SBATCH -N 1
# expect-launch: yes
# expect-model: meta-llama/Llama-3.3-70B-Instruct
# expect-tp: 4

set -euo pipefail
export HF_HOME=/scratch/users/$USER/hf
export MODEL=${MODEL:-meta-llama/Llama-3.3-70B-Instruct}
SIF=/scratch/projects/containers/vllm-0.10.sif

module load gcc cuda apptainer
mkdir -p $HF_HOME logs

apptainer exec \
  --nv \
  --cleanenv \
  --env HF_HOME=$HF_HOME \
  --env HF_TOKEN=$HF_TOKEN \
  --home /scratch/users/$USER \
  $SIF \
  vllm serve $MODEL --port 8080 --tensor-parallel-size 4 --max-model-len 32768
