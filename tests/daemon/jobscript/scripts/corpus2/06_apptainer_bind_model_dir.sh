#!/bin/bash
#SBATCH --job-name=q3-14b
#SBATCH --gres=gpu:l40s:2
#SBATCH --cpus-per-task=12
#SBATCH --mem=96G
#SBATCH --time=12:00:00
# expect-launch: yes
# expect-model: /gpfs/projects/nlp/weights/Qwen3-14B
# expect-tp: 2

MODEL_DIR=/gpfs/projects/nlp/weights/Qwen3-14B
IMAGE=/gpfs/projects/nlp/images/vllm-openai_v0.10.1.sif

apptainer exec --nv --bind "$MODEL_DIR:/model" "$IMAGE" \
    vllm serve /model --served-model-name qwen3-14b --tensor-parallel-size 2 --port 8000
