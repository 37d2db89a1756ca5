#!/bin/bash
#SBATCH --job-name=dp-ep
#SBATCH --nodes=1
#SBATCH --gres=gpu:h100:8
#SBATCH --time=03:00:00
# expect-launch: yes
# expect-model: /cfs/models/DeepSeek-V2-Lite
# expect-tp: 1

export VLLM_USE_V1=1
NODES=${SLURM_NNODES:-1}
DP=$((NODES * 8))

CMD="vllm serve /cfs/models/DeepSeek-V2-Lite \
     --trust-remote-code \
     --max_model_len 8192 \
     --gpu-memory-utilization 0.8 \
     --max-num-seqs 8 \
     --tensor-parallel-size 1 \
     --data-parallel-size $DP \
     --enable-expert-parallel \
     --enforce-eager"
echo $CMD
eval $CMD
