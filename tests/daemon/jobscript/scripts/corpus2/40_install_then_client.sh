#!/bin/bash
#SBATCH --job-name=client
#SBATCH --cpus-per-task=4
#SBATCH --time=01:00:00
# expect-launch: no

uv venv --python 3.12 --seed
source .venv/bin/activate
uv pip install vllm openai --torch-backend=auto
python query_endpoint.py --base-url http://gpu-node-07:8000/v1 --model Qwen/Qwen3-8B
