#!/bin/bash
#SBATCH -J phi4
#SBATCH --gpus=a100:1
#SBATCH -c 8
#SBATCH --mem=48G
#SBATCH -t 4:00:00
# expect-launch: yes
# expect-model: microsoft/phi-4
# expect-tp: 1

PORT=$(( 20000 + SLURM_JOB_ID % 10000 ))
cat <<MSG
Server starting on $(hostname):$PORT
On your laptop run:
  ssh -N -L ${PORT}:$(hostname):${PORT} ${USER}@login.hpc.example.edu
and point your client at http://localhost:${PORT}/v1
MSG

module load vllm
vllm serve microsoft/phi-4 --host 0.0.0.0 --port $PORT --max-model-len 16384
