#!/usr/bin/env bash
#SBATCH --nodes=2
#SBATCH --constraint='gpu&hbm80g'
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-task=4
#SBATCH --cpus-per-task=128
#SBATCH --qos=regular
# expect-launch: yes
# expect-model: meta-llama/Llama-3.1-405B-Instruct-FP8
# expect-tp: 4
# expect-multinode: yes

export HF_HOME=$SCRATCH/huggingface
IMAGE="vllm/vllm-openai:v0.9.1"
RUN_IN="shifter --image=$IMAGE --module=gpu,nccl-plugin"
nodes=$(scontrol show hostnames $SLURM_JOB_NODELIST)
nodes_array=( $nodes )

srun --nodes=1 --ntasks=1 -w ${nodes_array[0]} $RUN_IN ray start --head --block &
sleep 60
srun --nodes=1 --ntasks=1 -w ${nodes_array[1]} $RUN_IN ray start --address ${nodes_array[0]}:6379 --block &
sleep 60

srun --overlap --nodes=1 --ntasks=1 -w ${nodes_array[0]} $RUN_IN \
    vllm serve meta-llama/Llama-3.1-405B-Instruct-FP8 --tensor-parallel-size 4 --pipeline-parallel-size 2
