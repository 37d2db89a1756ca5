#!/bin/bash
#SBATCH --gres=gpu:80g:1
#SBATCH --mem=100G
#SBATCH --output=run_output.txt
#SBATCH --job-name=ds
# expect-launch: yes
# expect-model: deepseek-ai/DeepSeek-R1-Distill-Qwen-14B
# expect-tp: 1

module load python/3.11
source venv/bin/activate

vllm serve deepseek-ai/DeepSeek-R1-Distill-Qwen-14B --max-model-len 32768 --reasoning-parser deepseek_r1
