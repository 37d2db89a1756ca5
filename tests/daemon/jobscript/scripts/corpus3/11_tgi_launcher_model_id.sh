#!/bin/bash
#SBATCH --job-name=tgi-gemma3
#SBATCH --partition=general
#SBATCH --gres=gpu:A6000:2
#SBATCH --mem=100GB
#SBATCH --time=12:00:00
# expect-launch: no

model_id='google/gemma-3-27b-it'
echo $SLURM_JOB_ID $model_id

mkdir -p /scratch/$USER/tgi
# a vllm server would need --max-model-len; TGI takes max-total-tokens instead
text-generation-launcher --model-id $model_id --num-shard 2 --port 8100 \
    --master-port 23457 --shard-uds-path /scratch/$USER/tgi/socket \
    --huggingface-hub-cache /data/models/tgi_cache/hub \
    --max-input-length 8000 --max-total-tokens 8192
