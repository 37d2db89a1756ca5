#!/bin/bash
#SBATCH --job-name=vllm-gpu
#SBATCH -t 48:00:00
#SBATCH -p scc-gpu
#SBATCH -c 16
#SBATCH -G A100:4
#SBATCH --constraint=80gb
#SBATCH -N 1
# expect-launch: yes
# expect-model: meta-llama/Llama-3.3-70B-Instruct
# expect-tp: 4

export PROJ=/scratch-scc/projects/nlp_lab
export HF_HOME=$PROJ/hf
export HF_HUB_CACHE=$HF_HOME/hub
export MODEL=${MODEL:-meta-llama/Llama-3.3-70B-Instruct}
export LLM_API_KEY=${LLM_API_KEY:-change-me}
export LLM_BASE_URL=http://localhost:8080/v1/

module load gcc cuda
source .venv/bin/activate

echo "Starting vLLM with $MODEL"
HF_HUB_OFFLINE=1 vllm serve $MODEL --port 8080 --api-key $LLM_API_KEY --tensor-parallel-size 4
