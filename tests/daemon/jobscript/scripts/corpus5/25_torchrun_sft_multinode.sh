#!/bin/bash
#SBATCH -N 2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=4
#SBATCH -c 16
#SBATCH -t 2-00:00:00
#SBATCH -p general
#SBATCH --mem=256G
#SBATCH -o slurm_logs/sft.%j.out
# expect-launch: no

module load mamba/latest cuda-12.8
source activate swift

export MASTER_PORT=$(( 29500 + RANDOM % 1000 ))
export MASTER_ADDR=$(scontrol show hostnames $SLURM_JOB_NODELIST | head -n 1)
export NNODES=2
export NPROC_PER_NODE=4

srun bash -c 'NODE_RANK=$SLURM_PROCID swift sft --model Qwen/Qwen3-VL-8B-Instruct --train_type lora --dataset data/train.jsonl --deepspeed zero2 --output_dir out/'
