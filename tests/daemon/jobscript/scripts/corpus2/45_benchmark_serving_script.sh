#!/bin/bash
#SBATCH --job-name=load-gen
#SBATCH --cpus-per-task=16
#SBATCH --time=01:00:00
# expect-launch: no

model=/mnt/common/Meta-Llama-3-8B-Instruct
python benchmarks/benchmark_serving.py --backend vllm --model $model --dataset-name random \
  --num-prompts 2000 --request-rate 20.0 --random-input-len 112 --random-output-len 334 --port 8765
