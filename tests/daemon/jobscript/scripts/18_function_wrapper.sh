#!/bin/bash
#SBATCH --gres=gpu:h100:2
#SBATCH --time=04:00:00

start_server() {
    local model=$1
    vllm serve "$model" --tensor-parallel-size 2 --port 8000 &
    echo $! > server.pid
}

start_server mistralai/Mixtral-8x7B-Instruct-v0.1
wait
