#!/bin/bash
#SBATCH --job-name=r1-llama8b
#SBATCH --output=slurm/%j.log
#SBATCH --cpus-per-task=4
#SBATCH --mem=32GB
#SBATCH --gres=gpu:A100-SXM4-80GB:1
#SBATCH --time=12:00:00
# expect-launch: yes
# expect-model: deepseek-ai/DeepSeek-R1-Distill-Llama-8B
# expect-tp: 1

set -euo pipefail
export MAMBA_ROOT_PREFIX=/nas/$USER/micromamba
export PATH=$MAMBA_ROOT_PREFIX/bin:$PATH
export HF_HOME=/nas/$USER/cache/hub

micromamba run -n vllm-env python -m vllm.entrypoints.openai.api_server \
  --model deepseek-ai/DeepSeek-R1-Distill-Llama-8B --max-model-len 16384 --port 8001
