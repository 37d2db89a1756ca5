#!/bin/bash
#SBATCH -A m4999
#SBATCH -C gpu
#SBATCH -q regular
#SBATCH -N 1
#SBATCH --gpus-per-node=4
#SBATCH -t 00:45:00
# expect-launch: yes
# expect-model: /pscratch/sd/u/user42/Qwen3-30B-A3B-Instruct-2507
# expect-tp: 1

module load conda
conda activate /pscratch/sd/u/user42/envs/vllm
export VLLM_ALL2ALL_BACKEND=pplx

nsys profile \
  -t cuda,nvtx \
  -s none \
  --cpuctxsw=none \
  --force-overwrite=true \
  --stats=true \
  -o moe_dp4tp1_${SLURM_JOB_ID} \
  vllm serve /pscratch/sd/u/user42/Qwen3-30B-A3B-Instruct-2507 \
    --data-parallel-size 4 \
    --tensor-parallel-size 1 \
    --enable-expert-parallel \
    --port 8000
