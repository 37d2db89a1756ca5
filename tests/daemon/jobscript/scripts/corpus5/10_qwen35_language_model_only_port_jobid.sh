#!/bin/bash
#SBATCH --job-name=qwen35-2b
#SBATCH --gres=gpu:1
#SBATCH --time=02:00:00
#SBATCH --mem=32G
# expect-launch: yes
# expect-model: Qwen/Qwen3.5-2B
# expect-tp: 1

source /etc/profile.d/modules.sh
module load python/3.12 cuda/12.9
source $HOME/.venvs/vllm/bin/activate

PORT=$((10000 + SLURM_JOB_ID % 50000))
NODE=$(hostname -s)
echo "Run on your machine: ssh -N -L ${PORT}:${NODE}:${PORT} ${USER}@hpc-login.example.edu"
echo "Then: curl http://localhost:${PORT}/v1/models"

vllm serve Qwen/Qwen3.5-2B --port "$PORT" --language-model-only --max-model-len 32768
