#!/bin/bash
#SBATCH --job-name=instance
#SBATCH --gres=gpu:4
#SBATCH --time=08:00:00
# expect-launch: yes
# expect-model: /scratch/gpfs/models/models--meta-llama--Llama-3.3-70B-Instruct/snapshots/6f6073b423013f6a7d4d9f39144961bfbfbc386b
# expect-tp: 4

MODEL_DIR=/scratch/gpfs/models/models--meta-llama--Llama-3.3-70B-Instruct
REV=6f6073b423013f6a7d4d9f39144961bfbfbc386b
port=$(shuf -i 20000-30000 -n 1)

apptainer instance run --nv \
  --bind $MODEL_DIR:/data \
  $HOME/images/vllm-openai_v0.10.2.sif \
  llama-svc \
  --model /data/snapshots/$REV \
  --port $port \
  --tensor-parallel-size 4
sleep infinity
