#!/bin/bash
#SBATCH --job-name=chat
#SBATCH --time=00:30:00
# expect-launch: no

vllm chat --url http://gpu-node-03:8000/v1 --model-name qwen3 < prompts.txt
