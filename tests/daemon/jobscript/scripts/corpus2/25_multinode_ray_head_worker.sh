#!/bin/bash
#SBATCH --job-name=q3-235b
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --exclusive
#SBATCH --time=12:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen3-235B-A22B
# expect-tp: 8
# expect-multinode: yes

nodes=$(scontrol show hostnames "$SLURM_JOB_NODELIST")
nodes_array=($nodes)
head_node=${nodes_array[0]}
head_ip=$(srun --nodes=1 --ntasks=1 -w "$head_node" hostname --ip-address)

srun --nodes=1 --ntasks=1 -w "$head_node" ray start --head --port=6379 --block &
sleep 20
srun --nodes=1 --ntasks=1 -w "${nodes_array[1]}" ray start --address="$head_ip:6379" --block &
sleep 20

vllm serve Qwen/Qwen3-235B-A22B \
    --tensor-parallel-size 8 \
    --pipeline-parallel-size 2 \
    --distributed-executor-backend ray
