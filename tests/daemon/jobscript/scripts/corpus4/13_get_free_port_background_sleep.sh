#!/usr/bin/env bash

#SBATCH --job-name=vllm_llama_3.1_70b
#SBATCH --output=vllm-llama-3.1-70b-%j.log
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --time=12:00:00
#SBATCH --cpus-per-gpu=12
#SBATCH --gres=gpu:4
#SBATCH --mem-per-gpu=16G
#SBATCH --constraint=gpu80
# expect-launch: yes
# expect-model: meta-llama/Llama-3.1-70B-Instruct
# expect-tp: 4

get_free_port() {
  python -c 'import socket; s=socket.socket(); s.bind(("", 0)); print(s.getsockname()[1]); s.close()'
}

module purge
module load anaconda3/2024.6
conda activate vllm

export HF_HUB_OFFLINE=1
export HF_HOME="/scratch/gpfs/lab/inference/_models"

FREE_PORT=$(get_free_port)
echo "port: $FREE_PORT"

vllm serve meta-llama/Llama-3.1-70B-Instruct --tensor-parallel-size 4 --port "$FREE_PORT" &

sleep 600
python query.py --port "$FREE_PORT"
