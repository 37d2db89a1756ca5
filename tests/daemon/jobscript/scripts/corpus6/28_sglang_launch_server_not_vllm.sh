#!/bin/bash
#SBATCH --job-name=sgl
#SBATCH --gres=gpu:2
#SBATCH --time=08:00:00
# expect-launch: no

source ~/venvs/sglang/bin/activate
# we moved from vLLM to SGLang for this model
python -m sglang.launch_server --model-path Qwen/Qwen3-32B --tp 2 --port 30000 --host 0.0.0.0
