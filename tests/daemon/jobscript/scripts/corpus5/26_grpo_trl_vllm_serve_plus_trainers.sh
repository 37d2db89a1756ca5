#!/bin/bash
#SBATCH --job-name=grpo
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gres=gpu:8
#SBATCH --exclusive
#SBATCH --output=./logs/%x-%j.out
# expect-launch: no

module load cuda/12.8
source ~/miniconda3/bin/activate open-r1

MODEL=Qwen/Qwen2.5-Math-7B
NODES=($(scontrol show hostnames $SLURM_JOB_NODELIST))
VLLM_NODE=${NODES[0]}
TRAIN_NODE=${NODES[1]}

# generation server for the trainer, on the first node
srun --nodes=1 --ntasks=1 -w $VLLM_NODE trl vllm-serve --model $MODEL --tensor_parallel_size 1 &
sleep 60

srun --nodes=1 --ntasks=1 -w $TRAIN_NODE accelerate launch --config_file recipes/accelerate_configs/zero2.yaml \
    --num_processes 8 src/open_r1/grpo.py --config recipes/grpo/config_demo.yaml \
    --vllm_server_host $VLLM_NODE
