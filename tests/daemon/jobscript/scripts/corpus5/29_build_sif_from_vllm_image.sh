#!/bin/bash
#SBATCH --job-name=build-sif
#SBATCH --cpus-per-task=16
#SBATCH --mem=64G
#SBATCH --tmp=100G
#SBATCH --time=02:00:00
# expect-launch: no

export APPTAINER_TMPDIR=$SLURM_TMPDIR
export APPTAINER_CACHEDIR=$WORK/.apptainer
apptainer build $WORK/sif/vllm-openai-0.12.0.sif docker://vllm/vllm-openai:v0.12.0
apptainer exec $WORK/sif/vllm-openai-0.12.0.sif vllm --version
