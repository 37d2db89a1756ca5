#!/bin/bash
#SBATCH --gres=gpu:a100:2
#SBATCH -t 6:00:00

env CUDA_VISIBLE_DEVICES=0,1 VLLM_WORKER_MULTIPROC_METHOD=spawn \
  vllm serve allenai/OLMo-2-1124-13B-Instruct --tensor-parallel-size 2 --dtype float16
