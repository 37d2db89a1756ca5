#!/bin/bash
#SBATCH --job-name=dsv32
#SBATCH --nodes=1
#SBATCH --gres=gpu:h200:8
#SBATCH --exclusive
#SBATCH --time=1-00:00:00
# expect-launch: yes
# expect-model: deepseek-ai/DeepSeek-V3.2-Exp
# expect-tp: 8

export HF_HOME=/lustre/$USER/hf
export VLLM_USE_DEEP_GEMM=1
source /lustre/$USER/venvs/vllm-nightly/bin/activate
vllm serve deepseek-ai/DeepSeek-V3.2-Exp -tp 8 \
    --kv-cache-dtype fp8 \
    --max-model-len 65536 \
    --gpu-memory-utilization 0.92 \
    --tokenizer-mode deepseek_v32 \
    --tool-call-parser deepseek_v31 --enable-auto-tool-choice \
    2>&1 | tee logs/dsv32_${SLURM_JOB_ID}.log
