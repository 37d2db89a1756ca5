#!/bin/sh
#SBATCH --gres=gpu:h200:8
#SBATCH -t 04:00:00
#SBATCH -J glm46
# expect-launch: yes
# expect-model: zai-org/GLM-4.6-FP8
# expect-tp: 8
. ~/venvs/vllm/bin/activate && vllm serve zai-org/GLM-4.6-FP8 -tp 8 --tool-call-parser glm45 --reasoning-parser glm45 --enable-auto-tool-choice
