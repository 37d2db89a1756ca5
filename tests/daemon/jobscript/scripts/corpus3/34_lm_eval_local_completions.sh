#!/bin/bash
#SBATCH --job-name=eval-remote
#SBATCH --cpus-per-task=8
#SBATCH --time=06:00:00
# expect-launch: no

# the vLLM server runs in another job (see serve_qwen3.sh); this one only sends requests
SERVER_NODE=$(squeue -u $USER -n vllm-qwen3 -h -o %N)
source ~/venvs/eval/bin/activate
lm_eval --model local-completions \
    --model_args model=Qwen/Qwen3-8B,base_url=http://${SERVER_NODE}:8000/v1/completions,num_concurrent=32 \
    --tasks gsm8k,mmlu_pro --batch_size auto
