#!/bin/bash
#SBATCH --job-name=olmo2-32b
#SBATCH --partition=gpu
#SBATCH --gres=gpu:h100:2
#SBATCH --cpus-per-task=16
#SBATCH --mem=128G
#SBATCH --time=08:00:00
# expect-launch: yes
# expect-model: allenai/OLMo-2-0325-32B-Instruct
# expect-tp: 2

source $HOME/venvs/vllm/bin/activate
TP=${SLURM_GPUS_ON_NODE:-1}
echo "tensor parallel over $TP GPUs"
vllm serve allenai/OLMo-2-0325-32B-Instruct --tensor-parallel-size "$TP" --port 8000
