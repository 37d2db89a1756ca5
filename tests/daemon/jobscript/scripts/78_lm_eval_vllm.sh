#!/bin/bash
#SBATCH --gres=gpu:a100:2
#SBATCH --time=06:00:00

# evaluates with vLLM as an in-process backend: no server
lm_eval --model vllm \
    --model_args pretrained=Qwen/Qwen2.5-7B-Instruct,tensor_parallel_size=2,gpu_memory_utilization=0.8 \
    --tasks gsm8k,mmlu --batch_size auto --output_path results/
