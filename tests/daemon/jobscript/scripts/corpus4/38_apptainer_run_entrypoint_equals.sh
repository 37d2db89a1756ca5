#!/bin/bash
#SBATCH --job-name=ood-llm
#SBATCH --gres=gpu:1
#SBATCH --time=04:00:00
# expect-launch: yes
# expect-model: /scratch/general/u123/ollama_models/Phi-4-mini-instruct
# expect-tp: 1

port=$(shuf -i 8000-9999 -n 1)
SCRATCH_DIR=/scratch/general/u123/cache
MODELS=/scratch/general/u123/ollama_models/
MODEL_NAME=Phi-4-mini-instruct
mkdir -p $SCRATCH_DIR
apptainer run --nv -e --env HF_HOME=/root/.cache/ --bind ${SCRATCH_DIR}:/root/.cache /sw/vllm/vllm-0.11.0.sif --host=localhost --port=$port --model=${MODELS}${MODEL_NAME} --task=generate
