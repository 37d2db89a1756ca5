#!/bin/bash
#SBATCH --job-name=ollama
#SBATCH --partition=gpu
#SBATCH --gres=gpu:l40s:1
#SBATCH --time=04:00:00
# expect-launch: no

PORT=$(shuf -i 20000-29999 -n 1)
export OLLAMA_HOST=127.0.0.1:$PORT
echo "$(hostname):$PORT" > $HOME/.ollama_endpoint
echo "ssh -L 11434:localhost:$PORT $(hostname)"

$HOME/.local/bin/ollama serve > ollama_${SLURM_JOB_ID}.log 2>&1 &
sleep 5
$HOME/.local/bin/ollama pull gpt-oss:20b
wait
