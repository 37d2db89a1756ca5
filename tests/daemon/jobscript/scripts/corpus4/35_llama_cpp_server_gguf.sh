#!/bin/bash
#SBATCH --job-name=llamacpp
#SBATCH --gres=gpu:1
#SBATCH --time=08:00:00
# expect-launch: no

# moved from vllm serve to llama.cpp for the GGUF quant
module load llama.cpp/b6500-CUDA-12.6
llama-server -m /scratch/models/gpt-oss-20b-mxfp4.gguf --host 0.0.0.0 --port 8080 -ngl 99 -c 32768 --jinja
