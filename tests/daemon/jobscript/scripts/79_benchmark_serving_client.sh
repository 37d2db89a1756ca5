#!/bin/bash
#SBATCH --partition=cpu
#SBATCH --time=01:00:00

# load test against the team's long-running server on gpu-node-07
git clone --depth 1 https://github.com/vllm-project/vllm.git
python vllm/benchmarks/benchmark_serving.py --backend vllm \
    --base-url http://gpu-node-07:8000 --model Qwen/Qwen2.5-7B-Instruct \
    --dataset-name random --num-prompts 1000 --request-rate 8
