#!/bin/bash
#SBATCH --gres=gpu:a100:1
#SBATCH --time=02:00:00

cd ~/src/vllm
python benchmarks/benchmark_throughput.py --backend vllm --model meta-llama/Llama-3.1-8B-Instruct \
    --input-len 512 --output-len 128 -tp 1
