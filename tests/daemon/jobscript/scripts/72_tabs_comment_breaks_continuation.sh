#!/bin/bash
#SBATCH --gres=gpu:h100:2
#SBATCH --time=04:00:00

vllm serve meta-llama/Llama-3.1-8B-Instruct \
	--max-model-len 8192 \
	# --quantization fp8 \
	--tensor-parallel-size 2 \
	--max-num-seqs 128
