#!/bin/bash
#SBATCH --job-name=llama4-scout
#SBATCH --nodes=1
#SBATCH --gres=gpu:a100:4 --ntasks-per-node=1
#SBATCH --cpus-per-task=32
#SBATCH --time=08:00:00
# expect-launch: yes
# expect-model: meta-llama/Llama-4-Scout-17B-16E-Instruct
# expect-tp: 4

module load python/3.12 cuda/12.6
source $HOME/envs/vllm011/bin/activate

srun --export=ALL --ntasks=1 --cpus-per-task=32 \
  vllm serve meta-llama/Llama-4-Scout-17B-16E-Instruct \
  --tensor-parallel-size 4 --max-model-len 65536 --limit-mm-per-prompt '{"image": 2}'
