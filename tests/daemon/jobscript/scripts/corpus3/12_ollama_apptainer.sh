#!/bin/bash -l
#SBATCH --time=02:00:00
#SBATCH --partition=gpu
#SBATCH --account=p200981
#SBATCH --nodes=1
#SBATCH --gres=gpu:1
# expect-launch: no

module add Apptainer
export OLLAMA_MODELS=/project/home/p200981/ollama-models
apptainer pull --force ollama_latest.sif docker://ollama/ollama
apptainer exec --nv ollama_latest.sif ollama serve &
sleep 20
apptainer exec --nv ollama_latest.sif ollama run gpt-oss:20b "Say hello"
