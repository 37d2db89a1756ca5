#!/usr/bin/env bash
#SBATCH --job-name=vLLM
#SBATCH --account=proj0042-gpu
#SBATCH --exclusive
#SBATCH --time=1-00:00:00
#SBATCH --nodes=4
#SBATCH --partition=gpu
# expect-launch: unknowable
module load singularity/4.1.0-slurm
srun ~/projects/raycluster/start-cluster.py singularity ~/.opt/vLLM/vllm_rocm6.4_vllm0.10.sif \
	--slurm --auto --model Qwen/Qwen3-235B-A22B --enforce-eager
