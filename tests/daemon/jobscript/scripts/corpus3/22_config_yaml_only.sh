#!/bin/bash
#SBATCH --job-name=grpo-vllm
#SBATCH --gres=gpu:2
#SBATCH --time=1-00:00:00
# expect-launch: yes
# expect-model: unknown
# expect-tp: unknown

export CUDA_VISIBLE_DEVICES=0,1
export VLLM_ALLOW_RUNTIME_LORA_UPDATING=True
# every server setting (model, parallelism, lengths) is in vllm_config.yaml
nohup vllm serve --config vllm_config.yaml > vllm_server.log 2>&1 &
sleep 120
accelerate launch --num_processes 1 train_grpo.py
