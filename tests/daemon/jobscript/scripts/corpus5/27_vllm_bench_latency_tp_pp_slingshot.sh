#!/bin/bash
#SBATCH --job-name=bench-latency
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=4
#SBATCH --time=01:00:00
# expect-launch: no

module load PrgEnv-gnu cray-python
source $HOME/venvs/vllm/bin/activate
export NCCL_NET="AWS Libfabric"
export FI_PROVIDER=cxi

ray start --head --port 6379 &
sleep 10
srun -N1 -n1 -x $(hostname) ray start --address $(hostname -i):6379 --block &
sleep 20

vllm bench latency --model meta-llama/Llama-3.3-70B-Instruct \
    --tensor-parallel-size 4 --pipeline-parallel-size 2 \
    --input-len 512 --output-len 128 --batch-size 8
