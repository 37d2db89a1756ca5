#!/bin/bash
#SBATCH --job-name=dsv31-serve
#SBATCH --nodes=2
#SBATCH --gpus=8
#SBATCH --time=04:00:00
#SBATCH --exclusive
#SBATCH --output=out/%x.%j.out
# expect-launch: yes
# expect-model: deepseek-ai/DeepSeek-V3.1
# expect-tp: 4
# expect-multinode: yes

module reset
module load site/nccl-aws
source .venv/bin/activate

HEAD=$(scontrol show hostnames $SLURM_NODELIST | head -n1)
WORKERS=$(scontrol show hostnames $SLURM_NODELIST | tail -n+2)
HEAD_IP=$(dig +short ${HEAD})
RAY_PORT=6380

export VLLM_LOGGING_LEVEL=INFO
export HF_HOME=/projects/shared/llm/hf

echo "head $HEAD ($HEAD_IP)"
srun --nodelist $HEAD --nodes=1 --gpus=4 --ntasks-per-node 1 \
    bash -c "VLLM_HOST_IP=$HEAD_IP ray start --block --head --node-ip-address=$HEAD_IP --port=$RAY_PORT" &
sleep 15

for W in $WORKERS; do
    W_IP=$(dig +short ${W})
    srun --nodelist $W --nodes=1 --gpus=4 --ntasks-per-node 1 \
        bash -c "VLLM_HOST_IP=$W_IP ray start --block --address=$HEAD_IP:$RAY_PORT --node-ip-address=$W_IP" &
done
sleep 15
ray status --address $HEAD_IP:$RAY_PORT

VLLM_HOST_IP=$HEAD_IP vllm serve deepseek-ai/DeepSeek-V3.1 \
    --tensor-parallel-size 4 \
    --pipeline-parallel-size 2 \
    --distributed-executor-backend ray \
    --max-model-len 32768 \
    --host 0.0.0.0 --port 8000
