#!/bin/bash
#SBATCH --job-name=l405
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=4
#SBATCH --exclusive
#SBATCH --time=12:00:00
# expect-launch: yes
# expect-model: meta-llama/Llama-3.1-405B-Instruct-FP8
# expect-tp: 4
# expect-multinode: yes

nodes=($(scontrol show hostnames "$SLURM_JOB_NODELIST"))
head_node=${nodes[0]}
head_ip=$(srun --nodes=1 --ntasks=1 -w "$head_node" hostname --ip-address)
srun --nodes=1 --ntasks=1 -w "$head_node" ray start --head --node-ip-address="$head_ip" --port=6379 --block &
sleep 15
srun --nodes=1 --ntasks=1 -w "${nodes[1]}" ray start --address="$head_ip:6379" --block &
sleep 30

vllm serve meta-llama/Llama-3.1-405B-Instruct-FP8 \
  --tensor-parallel-size 4 --pipeline-parallel-size 2 \
  --distributed-executor-backend ray --max-model-len 32768
