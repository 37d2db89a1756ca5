#!/bin/bash
#SBATCH --job-name=glm45air
#SBATCH --partition=h100
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --gres=gpu:h100:4
#SBATCH --cpus-per-task=32
#SBATCH --time=12:00:00
# expect-launch: yes
# expect-model: zai-org/GLM-4.5-Air-FP8
# expect-tp: 4

module load cuda/12.8 openmpi/5.0
source $HOME/venvs/vllm/bin/activate

srun --mpi=pmix --ntasks=1 --gpus-per-task=4 \
    vllm serve zai-org/GLM-4.5-Air-FP8 \
        --tensor-parallel-size 4 \
        --tool-call-parser glm45 \
        --reasoning-parser glm45 \
        --enable-auto-tool-choice \
        --port 8000
