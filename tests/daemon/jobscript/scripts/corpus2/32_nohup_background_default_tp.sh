#!/bin/bash
#SBATCH --job-name=mistral7b
#SBATCH --gres=gpu:1
#SBATCH --time=04:00:00
# expect-launch: yes
# expect-model: mistralai/Mistral-7B-Instruct-v0.3
# expect-tp: 1

source ~/envs/serve/bin/activate
nohup vllm serve mistralai/Mistral-7B-Instruct-v0.3 \
    --tensor-parallel-size=${TP:-1} \
    --dtype bfloat16 \
    --gpu-memory-utilization 0.90 \
    --max-model-len 16384 > logs/server_${SLURM_JOB_ID}.log 2>&1 &

for i in $(seq 1 60); do
  curl -s localhost:8000/health && break
  sleep 10
done
wait
