#!/bin/bash
#SBATCH --job-name=1p1d
#SBATCH --nodes=1
#SBATCH --gres=gpu:2
#SBATCH --time=02:00:00
# expect-launch: yes
# expect-model: meta-llama/Llama-3.1-8B-Instruct
# expect-tp: 1

MODEL=meta-llama/Llama-3.1-8B-Instruct
export UCX_TLS=cuda_ipc,cuda_copy,tcp

LMCACHE_CONFIG_FILE=configs/prefiller.yaml CUDA_VISIBLE_DEVICES=0 \
  vllm serve $MODEL --port 8100 --enforce-eager \
  --kv-transfer-config '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_producer","kv_connector_extra_config":{"discard_partial_chunks":false}}' \
  > prefiller.log 2>&1 &

LMCACHE_CONFIG_FILE=configs/decoder.yaml CUDA_VISIBLE_DEVICES=1 \
  vllm serve $MODEL --port 8200 --enforce-eager \
  --kv-transfer-config '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_consumer"}' \
  > decoder.log 2>&1 &

python3 disagg_proxy_server.py --host localhost --port 9000 \
  --prefiller-host localhost --prefiller-port 8100 --decoder-host localhost --decoder-port 8200 &
wait
