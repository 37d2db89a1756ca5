#!/bin/bash
#SBATCH --job-name=r1-serve
#SBATCH --partition=hopper-prod
#SBATCH --qos=normal
#SBATCH --nodes=2
#SBATCH --exclusive
#SBATCH --gpus-per-node=8
#SBATCH --output=./logs/%x-%j.out
#SBATCH --time=2-00:00:00
# expect-launch: yes
# expect-model: deepseek-ai/DeepSeek-R1-0528
# expect-tp: 8
# expect-multinode: yes

set -o pipefail
set -eu

module load cuda/12.8

DEFAULT_MODEL="deepseek-ai/DeepSeek-R1-0528"
DEFAULT_ENV="vllm012"
DEFAULT_UTIL="0.88"

usage() {
    echo "Usage: sbatch $0 [-m MODEL] [-e ENV] [-g GPU_UTIL]"
    exit 1
}

while getopts "m:e:g:h" opt; do
    case $opt in
        m) MODEL="$OPTARG" ;;
        e) CONDA_ENV="$OPTARG" ;;
        g) GPU_UTIL="$OPTARG" ;;
        h|*) usage ;;
    esac
done

MODEL=${MODEL:-$DEFAULT_MODEL}
CONDA_ENV=${CONDA_ENV:-$DEFAULT_ENV}
GPU_UTIL=${GPU_UTIL:-$DEFAULT_UTIL}

source ~/.bashrc
conda activate "$CONDA_ENV"

NODES=($(scontrol show hostnames "$SLURM_JOB_NODELIST"))
HEAD_NODE=${NODES[0]}
HEAD_IP=$(srun --nodes=1 --ntasks=1 -w "$HEAD_NODE" hostname --ip-address)

srun --nodes=1 --ntasks=1 -w "$HEAD_NODE" ray start --head --node-ip-address="$HEAD_IP" --port=6379 --block &
sleep 10
srun --nodes=1 --ntasks=1 -w "${NODES[1]}" ray start --address "$HEAD_IP:6379" --block &
sleep 20

vllm serve "$MODEL" \
    --tensor-parallel-size 8 \
    --pipeline-parallel-size 2 \
    --gpu-memory-utilization "$GPU_UTIL" \
    --max-model-len 32768 \
    --trust-remote-code
