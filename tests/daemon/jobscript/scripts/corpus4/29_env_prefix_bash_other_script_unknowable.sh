#!/bin/bash
#SBATCH -J vllm-server
#SBATCH --output=%x.%j.out
#SBATCH --cpus-per-task=4
#SBATCH --gpus-per-task=a100l:1
#SBATCH --ntasks=1
#SBATCH --mem=24G
#SBATCH --time=2:59:00
# expect-launch: unknowable

echo "MODEL: Qwen/Qwen3-8B"
echo "PROXY: ssh -N -L localhost:20002:$SLURMD_NODENAME:$(expr 10000 + $(echo -n $SLURM_JOBID | tail -c 4)) cluster"
nvidia-smi

MODEL_ID=Qwen/Qwen3-8B PORT=$(expr 10000 + $(echo -n $SLURM_JOBID | tail -c 4)) bash vllm/vllm-server-lab.sh
