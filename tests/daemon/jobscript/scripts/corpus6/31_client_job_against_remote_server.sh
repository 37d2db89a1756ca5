#!/bin/bash
#SBATCH --job-name=eval-client
#SBATCH --partition=cpu
#SBATCH --cpus-per-task=4
#SBATCH --time=02:00:00
# expect-launch: no

VLLM_HOST=$(cat ~/vllm_host.txt)
curl -s http://$VLLM_HOST:8000/v1/models
python eval.py --base-url http://$VLLM_HOST:8000/v1 --model Qwen/Qwen3-8B --concurrency 32
