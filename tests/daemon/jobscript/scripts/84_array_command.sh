#!/bin/bash
#SBATCH --gres=gpu:h100:2
#SBATCH --time=04:00:00

MODEL=Qwen/Qwen2.5-32B-Instruct
CMD=(vllm serve "$MODEL" --tensor-parallel-size 2 --max-model-len 16384)
echo "launching: ${CMD[*]}"
"${CMD[@]}"
