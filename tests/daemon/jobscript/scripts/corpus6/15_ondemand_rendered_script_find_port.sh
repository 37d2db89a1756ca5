#!/usr/bin/env bash
#SBATCH --gres=gpu:a100:1
#SBATCH --time=04:00:00
# expect-launch: yes
# expect-model: microsoft/phi-4
# expect-tp: 1

# Open OnDemand batch_connect script.sh, as rendered from the form (model, GPUs)
cd "${HOME}"
module purge
module load vllm/0.11.0
port=$(find_port ${host})
echo "Starting vLLM on ${host}:${port}"
export VLLM_API_KEY=$(create_passwd 32)
set -x
vllm serve "microsoft/phi-4" \
  --host 0.0.0.0 --port ${port} \
  --api-key ${VLLM_API_KEY} \
  --max-model-len 16384
