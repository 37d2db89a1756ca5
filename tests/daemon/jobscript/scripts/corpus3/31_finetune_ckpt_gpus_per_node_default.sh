#!/bin/bash
#SBATCH --job-name=olmo3-sft-eval
#SBATCH --nodes=1
#SBATCH --gpus-per-node=4
#SBATCH --time=04:00:00
# expect-launch: yes
# expect-model: /project/nlp/ckpts/olmo3-32b-think-sft/checkpoint-1200
# expect-tp: 4

CKPT_ROOT=/project/nlp/ckpts
RUN=olmo3-32b-think-sft
STEP=1200
source /project/nlp/envs/vllm/bin/activate
vllm serve "$CKPT_ROOT/$RUN/checkpoint-$STEP" \
    --served-model-name olmo3-sft \
    --tensor-parallel-size ${SLURM_GPUS_PER_NODE:-1} \
    --max-model-len 32768 &
VLLM_PID=$!
python eval_suite.py --endpoint http://localhost:8000/v1 --model olmo3-sft
kill $VLLM_PID
