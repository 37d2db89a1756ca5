#!/bin/bash
#SBATCH --job-name=dsv32-dp
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --time=12:00:00
# expect-launch: yes
# expect-model: deepseek-ai/DeepSeek-V3.2
# expect-tp: 8
# expect-multinode: yes

nodes=($(scontrol show hostnames "$SLURM_JOB_NODELIST"))
HEAD=${nodes[0]}
HEAD_IP=$(srun --nodes=1 --ntasks=1 -w "$HEAD" hostname --ip-address)

srun --nodes=1 --ntasks=1 -w "${nodes[1]}" \
  vllm serve deepseek-ai/DeepSeek-V3.2 --tensor-parallel-size 8 \
  --data-parallel-size 2 --data-parallel-size-local 1 --data-parallel-start-rank 1 \
  --data-parallel-address "$HEAD_IP" --data-parallel-rpc-port 13345 --headless &

srun --nodes=1 --ntasks=1 -w "$HEAD" \
  vllm serve deepseek-ai/DeepSeek-V3.2 --tensor-parallel-size 8 \
  --data-parallel-size 2 --data-parallel-size-local 1 \
  --data-parallel-address "$HEAD_IP" --data-parallel-rpc-port 13345 --port 8000
