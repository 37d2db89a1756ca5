#!/bin/bash
#SBATCH --gres=gpu:h100:2
#SBATCH --time=04:00:00

cat > serve.yaml <<EOF
tensor-parallel-size: 2
max-model-len: 8192
EOF
vllm serve meta-llama/Llama-3.1-8B-Instruct --config serve.yaml
