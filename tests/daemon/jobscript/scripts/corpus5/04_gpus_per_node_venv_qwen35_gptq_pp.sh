#!/bin/bash -l
#SBATCH --job-name=qwen35-397b
#SBATCH --account=p209999
#SBATCH --partition=gpu
#SBATCH --qos=default
#SBATCH --time=03:00:00
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=64
#SBATCH --output=%x-%j.out
# expect-launch: yes
# expect-model: Qwen/Qwen3.5-397B-A17B-GPTQ-Int4
# expect-tp: 4
# expect-multinode: yes

module load env/release/2025.1 Python/3.12.3-GCCcore-13.3.0 CUDA/12.8.0
source $PROJECT/$USER/venvs/vllm/bin/activate

export HF_HOME=$SCRATCH/hf
export HF_TOKEN=$(cat $HOME/.hf_token)
export MODEL_ID=Qwen/Qwen3.5-397B-A17B-GPTQ-Int4

HEAD=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -1)
HEAD_IP=$(srun -N1 -n1 -w "$HEAD" hostname -i | awk '{print $1}')

srun -N1 -n1 -w "$HEAD" ray start --head --port=6379 --block &
sleep 20
srun -N1 -n1 -x "$HEAD" ray start --address="$HEAD_IP:6379" --block &
sleep 40

echo "tunnel: ssh -L 8000:$HEAD_IP:8000 $USER@login.example.eu -p 8822"
vllm serve "$MODEL_ID" \
  --tensor-parallel-size 4 \
  --pipeline-parallel-size ${SLURM_NNODES} \
  --distributed-executor-backend ray \
  --max-model-len 65536 \
  --gpu-memory-utilization 0.92 \
  --port 8000
