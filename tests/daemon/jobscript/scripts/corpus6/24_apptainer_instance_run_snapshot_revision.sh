#!/bin/bash
#SBATCH --job-name=bf-textgen
#SBATCH --gres=gpu:1
#SBATCH --time=02:00:00
# expect-launch: yes
# expect-model: /scratch/gpfs/lab/.cache/models/models--Qwen--Qwen2.5-7B-Instruct/snapshots/a09a35458c702b33eeacc393d103063234e8bc28
# expect-tp: 1

port=$(python -c 'import socket; s=socket.socket(); s.bind(("",0)); print(s.getsockname()[1])')
MODEL_DIR=/scratch/gpfs/lab/.cache/models/models--Qwen--Qwen2.5-7B-Instruct
apptainer instance run --nv \
  --bind $MODEL_DIR:/data \
  /scratch/gpfs/lab/.cache/images/vllm-openai_v0.10.1.sif \
  textgen-$SLURM_JOB_ID \
  --model /data/snapshots/a09a35458c702b33eeacc393d103063234e8bc28 \
  --port $port \
  --revision a09a35458c702b33eeacc393d103063234e8bc28
sleep infinity
