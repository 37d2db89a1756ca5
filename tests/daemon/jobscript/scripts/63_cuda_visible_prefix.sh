#!/bin/bash
#SBATCH --gres=gpu:a100:2
#SBATCH --time=04:00:00

CUDA_VISIBLE_DEVICES=0,1 VLLM_WORKER_MULTIPROC_METHOD=spawn vllm serve Qwen/Qwen2.5-14B-Instruct --tensor-parallel-size 2
