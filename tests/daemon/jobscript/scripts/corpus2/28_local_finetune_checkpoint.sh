#!/bin/bash
#SBATCH --job-name=sft-eval-srv
#SBATCH --gres=gpu:1
#SBATCH --time=02:00:00
# expect-launch: yes
# expect-model: /home/lab/ckpts/qwen3-8b-sft-v2/checkpoint-1200
# expect-tp: 1

RUN=qwen3-8b-sft-v2
STEP=1200
CKPT_ROOT=/home/lab/ckpts

conda activate sft
vllm serve ${CKPT_ROOT}/${RUN}/checkpoint-${STEP} --served-model-name sft --port 8300 &
SERVER=$!
until curl -sf localhost:8300/health; do sleep 5; done
python eval_suite.py --endpoint http://localhost:8300/v1 --model sft
kill $SERVER
