#!/bin/bash
#SBATCH --time=04:00:00
#SBATCH --partition=gpu
#SBATCH --gpus-per-node=a100:4
#SBATCH --job-name=llama-vllm
#SBATCH --mem=80G
# expect-launch: no

module load Python/3.11.3-GCCcore-12.3.0
module load vllm/0.11.0-foss-2023a-CUDA-12.4
source ./bin/activate
#vllm serve meta-llama/Llama-3.3-70B-Instruct -tp 4
python run_vllm.py --model meta-llama/Llama-3.3-70B-Instruct --tp 4
