#!/bin/bash
#SBATCH --job-name=q3-4b
#SBATCH --gres=gpu:1
#SBATCH --time=01:00:00
# expect-launch: yes
# expect-model: Qwen/Qwen3-4B-Instruct-2507
# expect-tp: 1

# the site's environment launcher: `hpcenv exec ENVNAME COMMAND`
hpcenv exec llm-2025.06 vllm serve Qwen/Qwen3-4B-Instruct-2507 --max-model-len 32768
