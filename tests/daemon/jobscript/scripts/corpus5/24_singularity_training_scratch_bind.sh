#!/bin/bash
#SBATCH --job-name=mt-train
#SBATCH --partition=dev-g
#SBATCH --nodes=1
#SBATCH --gres=gpu:2
#SBATCH --time=02:00:00
#SBATCH --account=project_462000999
# expect-launch: no

CONTAINER=/appl/local/containers/multitorch-2026.sif
export HF_HOME=/scratch/project_462000999/hf

singularity exec \
    -B /scratch/:/scratch/:rw \
    $CONTAINER \
    python train.py -config configs/train_qwen3_1.7b.yaml
