#!/bin/bash
#SBATCH --job-name=llm-serve
#SBATCH --nodes=1
#SBATCH --gpus=4
#SBATCH --time=6:00:00
#SBATCH --exclusive
#SBATCH --output=logs/%x.%j.out
# expect-launch: yes
# expect-model: /projects/shared/llm/hf/hub/models--Qwen--Qwen3-235B-A22B-Instruct-2507-FP8/snapshots/4e1f9a0c22d7b6e35a8c91f0d2b7e6a1c3f58d04
# expect-tp: 4

echo "serving from node $HOSTNAME"

module reset
module load site/nccl-aws
module list

source $HOME/envs/vllm-0.12/bin/activate

SERVE_CFG="/projects/shared/llm/configs/hopper-moe.yaml"
HF_HOME=/projects/shared/llm/hf
SNAPSHOT=$HF_HOME/hub/models--Qwen--Qwen3-235B-A22B-Instruct-2507-FP8/snapshots/4e1f9a0c22d7b6e35a8c91f0d2b7e6a1c3f58d04/
SERVED="qwen3-235b"

export TIKTOKEN_ENCODINGS_BASE="/projects/shared/llm/tiktoken"

srun \
    --nodes=$SLURM_NNODES \
    --gpus=$SLURM_GPUS \
    --cpus-per-task 64 \
    --ntasks-per-node 1 \
    vllm serve $SNAPSHOT \
    --served-model-name $SERVED \
    --config $SERVE_CFG \
    --host 0.0.0.0 \
    --port 8000 \
    --max-num-seqs 256 \
    --tensor_parallel_size=4
