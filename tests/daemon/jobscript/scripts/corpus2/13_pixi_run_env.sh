#!/bin/bash
#SBATCH --job-name=mistral-small-32
#SBATCH --gres=gpu:h100:2
#SBATCH --time=10:00:00
# expect-launch: yes
# expect-model: mistralai/Mistral-Small-3.2-24B-Instruct-2506
# expect-tp: 2

cd /home/ana/projects/serve
pixi run -e cuda vllm serve mistralai/Mistral-Small-3.2-24B-Instruct-2506 \
    --tokenizer-mode mistral --config-format mistral --load-format mistral \
    --tensor-parallel-size 2
