#!/bin/bash
#SBATCH --job-name=textgen
#SBATCH --gres=gpu:8
#SBATCH --mem=192G
#SBATCH --time=12:00:00
# expect-launch: no

singularity exec --nv /ceph/container/vllm-openai_latest.sif python3 inference.py --tp 8
