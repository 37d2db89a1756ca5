#!/bin/bash
#SBATCH --job-name=llama70-lmcache
#SBATCH --gres=gpu:h100:4
#SBATCH --cpus-per-task=32
#SBATCH --mem=400G
#SBATCH --time=06:00:00
# expect-launch: yes
# expect-model: meta-llama/Llama-3.3-70B-Instruct
# expect-tp: 4
set -x

source /opt/venv/bin/activate
export LMCACHE_CHUNK_SIZE=256
export LMCACHE_LOCAL_CPU=True
export LMCACHE_MAX_LOCAL_CPU_SIZE=80.0

python3 -m vllm.entrypoints.openai.api_server --model meta-llama/Llama-3.3-70B-Instruct --tensor-parallel-size 4 --pipeline-parallel-size 1 --distributed-executor-backend mp --enable-prefix-caching --kv-transfer-config '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_both"}'
