#!/bin/bash
#SBATCH -J llama8b
#SBATCH -p a100
#SBATCH --gres=gpu:a100:2
#SBATCH -t 02:00:00

MODEL="meta-llama/Llama-3.1-8B-Instruct"
TP=2
PORT=$((8000 + SLURM_JOB_ID % 1000))

bash -c "source /opt/conda/etc/profile.d/conda.sh && conda activate vllm && vllm serve $MODEL --tensor-parallel-size $TP --port $PORT --max-num-seqs 128"
