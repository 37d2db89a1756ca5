#!/bin/bash
#SBATCH --job-name=ollama-gw
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=08:00:00
# expect-launch: no

export OLLAMA_MODELS=$WORK/ollama/models
export OLLAMA_HOST=0.0.0.0:11434
module load apptainer

apptainer exec --nv --bind $WORK/ollama:$WORK/ollama $WORK/sif/ollama.sif ollama serve &
sleep 10
apptainer exec --nv $WORK/sif/ollama.sif ollama pull qwen3:32b
wait
