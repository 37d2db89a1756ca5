#!/bin/bash
#SBATCH --time=02:00:00
#SBATCH --cpus-per-task=8
#SBATCH --mem=96GB
#SBATCH --gpus=2
#SBATCH --partition=gpu-h200-short
#SBATCH --output=serve-%J.out
# expect-launch: yes
# expect-model: Qwen/Qwen3-14B
# expect-tp: 2

# the site module points HF_HOME at the shared read-only model cache
module load model-huggingface/all
module load scicomp-llm-env

export TRANSFORMERS_OFFLINE=1
export HF_HUB_OFFLINE=1

HF_HUB_OFFLINE=1 vllm serve Qwen/Qwen3-14B --port 8080 --tensor-parallel-size 2 --max-model-len 32768
