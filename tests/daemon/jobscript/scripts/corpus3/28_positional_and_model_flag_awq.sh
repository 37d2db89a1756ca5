#!/bin/bash
#SBATCH --partition amdgpu
#SBATCH --nodes 1
#SBATCH --ntasks-per-node 1
#SBATCH --mem-per-cpu 96G
#SBATCH --gres gpu:2
#SBATCH --time 12:00:00
#SBATCH --job-name factcheck_vllm
# expect-launch: yes
# expect-model: casperhansen/llama-3.3-70b-instruct-awq
# expect-tp: 2

ml Python/3.12.3-GCCcore-13.3.0
source ~/factcheck/venvs/vllm/bin/activate
export PYTHONPATH=src:$PYTHONPATH
export VLLM_ALLOW_LONG_MAX_MODEL_LEN=1

#serve vllm
vllm serve casperhansen/llama-3.3-70b-instruct-awq --model casperhansen/llama-3.3-70b-instruct-awq --port 8095 --gpu-memory-utilization 0.95 --max-model-len 65536 --tensor-parallel-size 2 --api-key token-abc123
