#!/bin/bash
#SBATCH --job-name=gemma27
#SBATCH --gres=gpu:2
#SBATCH --time=06:00:00
# expect-launch: yes
# expect-model: /models/gemma-3-27b-it
# expect-tp: 2

apptainer run --nv --bind /models:/models --bind /scratch \
    /opt/images/vllm-openai_v0.10.0.sif \
    serve /models/gemma-3-27b-it --tensor-parallel-size 2 --max-model-len 8192
