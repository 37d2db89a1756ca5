#!/bin/bash
#SBATCH --job-name=q3-30b-a3b
#SBATCH --gres=gpu:h100:2
#SBATCH --cpus-per-task=16
#SBATCH --mem=128G
#SBATCH --time=08:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen3-30B-A3B-Instruct-2507
# expect-tp: 2

module load apptainer/1.4
export APPTAINER_CACHEDIR=$SCRATCH/.apptainer

apptainer run --nv \
    --env HF_HOME=/hf \
    --env VLLM_USE_V1=1 \
    -B $SCRATCH/hf:/hf \
    docker://vllm/vllm-openai:v0.11.2 \
    --model Qwen/Qwen3-30B-A3B-Instruct-2507 \
    --tensor-parallel-size 2 \
    --enable-expert-parallel \
    --max-model-len 65536
