#!/bin/bash
#SBATCH --gres=gpu:h100:2
#SBATCH --time=01:00:00
#OMNIPILOT off

vllm serve Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 2
