#!/bin/bash
#SBATCH --job-name=l33-fp8
#SBATCH --gres=gpu:4
#SBATCH --time=12:00:00
# expect-launch: yes
# expect-model: RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic
# expect-tp: 4

case "$SLURM_JOB_PARTITION" in
  a100|a100-long)
    TP=4
    UTIL=0.92
    ;;
  h100*)
    TP=4
    UTIL=0.95
    ;;
  *)
    TP=4
    UTIL=0.90
    ;;
esac

vllm serve RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic \
  --tensor-parallel-size $TP --gpu-memory-utilization $UTIL
