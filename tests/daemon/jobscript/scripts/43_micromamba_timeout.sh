#!/bin/bash
#SBATCH --gres=gpu:a100_80gb:2
#SBATCH --time=04:00:00

timeout 3h micromamba run -n vllm numactl --cpunodebind=0 python -m vllm.entrypoints.openai.api_server \
    --model=Qwen/Qwen2.5-32B-Instruct --tensor-parallel-size=2 --max-model-len=8k
