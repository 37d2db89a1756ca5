#!/bin/bash
#SBATCH --gres=gpu:rtx4090:2
#SBATCH --time=10:00:00

vllm serve hugging-quants/Meta-Llama-3.1-70B-Instruct-GPTQ-INT4 -q gptq_marlin -tp 2 --max-model-len 4096
