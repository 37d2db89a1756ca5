#!/bin/bash
#SBATCH --gres=gpu:1
#SBATCH --time=03:00:00
#SBATCH -o lmcache-%j.log
# expect-launch: yes
# expect-model: meta-llama/Llama-3.1-8B
# expect-tp: 1

cd $SLURM_SUBMIT_DIR
LMCACHE_CONFIG_FILE=configs/lmcache_cpu.yaml \
CUDA_VISIBLE_DEVICES=0 \
vllm serve meta-llama/Llama-3.1-8B \
    --gpu-memory-utilization 0.8 \
    --no-enable-prefix-caching \
    --port 8000 --kv-transfer-config \
    '{"kv_connector":"LMCacheConnectorV1",
      "kv_role":"kv_both"
    }'
