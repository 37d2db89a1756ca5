#!/bin/bash
#SBATCH --job-name=eval-client
#SBATCH --partition=cpu
#SBATCH --cpus-per-task=8
#SBATCH --time=06:00:00
# expect-launch: no

# the vLLM server runs in job $SERVER_JOB; its node is in server_host.txt
VLLM_HOST="$(cat server_host.txt)"
VLLM_PORT="${VLLM_PORT:-8001}"
MAX_WAIT=1800
ELAPSED=0
until [ "$(curl -s -o /dev/null -w "%{http_code}" "http://${VLLM_HOST}:${VLLM_PORT}/v1/models")" = "200" ]; do
  sleep 10
  ELAPSED=$((ELAPSED + 10))
  [ $ELAPSED -ge $MAX_WAIT ] && { echo "vLLM never came up" >&2; exit 1; }
done

python eval.py --api-base "http://${VLLM_HOST}:${VLLM_PORT}/v1" --model Qwen/Qwen3-32B
