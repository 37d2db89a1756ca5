#!/bin/bash
#SBATCH --job-name=serve-and-bench
#SBATCH --partition=a100
#SBATCH --gres=gpu:a100:2
#SBATCH --time=02:00:00

source ~/miniconda3/bin/activate vllm

vllm serve microsoft/Phi-3-medium-4k-instruct --tensor-parallel-size 2 --trust-remote-code \
    --port 8000 > server.log 2>&1 &
SERVER_PID=$!

until curl -sf http://localhost:8000/health > /dev/null; do
    sleep 5
done

for c in 1 8 32 64; do
    python client.py --url http://localhost:8000/v1 --concurrency $c --num-prompts 500
done

kill $SERVER_PID
