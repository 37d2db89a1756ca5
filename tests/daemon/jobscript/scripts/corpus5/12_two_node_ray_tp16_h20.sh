#!/bin/bash
#SBATCH --job-name=r1-tp16
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gres=gpu:8
#SBATCH --exclusive
#SBATCH --time=1-00:00:00
# expect-launch: yes
# expect-model: /data/models/DeepSeek-R1
# expect-tp: 16
# expect-multinode: yes

source /opt/conda/etc/profile.d/conda.sh
conda activate vllm
export NCCL_SOCKET_IFNAME=ib0
export NCCL_IB_HCA=mlx5
export GLOO_SOCKET_IFNAME=ib0

head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
head_ip=$(getent hosts "$head" | awk '{print $1}')

srun --mpi=pmix -N2 --ntasks-per-node=1 bash scripts/start_ray.sh "$head_ip" &
sleep 60

vllm serve /data/models/DeepSeek-R1 \
    --served-model-name deepseek-r1 \
    --tensor-parallel-size 16 \
    --distributed-executor-backend ray \
    --trust-remote-code \
    --max-model-len 16384 \
    --port 30000
