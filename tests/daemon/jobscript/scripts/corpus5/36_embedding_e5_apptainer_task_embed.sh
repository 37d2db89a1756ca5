#!/bin/bash
#SBATCH --job-name=e5-embed
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=12:00:00
# expect-launch: yes
# expect-model: intfloat/multilingual-e5-large-instruct
# expect-tp: 1
# expect-scope: out

module load apptainer
PORT=$((8100 + SLURM_JOB_ID % 100))
echo "embeddings at http://$(hostname):$PORT/v1/embeddings"
apptainer exec --nv -B $SCRATCH/hf:/hf --env HF_HOME=/hf $WORK/sif/vllm-0.11.2.sif \
    vllm serve intfloat/multilingual-e5-large-instruct --task embed --port $PORT
