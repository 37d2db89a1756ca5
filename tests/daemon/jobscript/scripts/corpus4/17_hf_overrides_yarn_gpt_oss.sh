#!/bin/bash
#SBATCH --job-name=oss20b-long
#SBATCH --gres=gpu:1
#SBATCH --time=06:00:00
# expect-launch: yes
# expect-model: openai/gpt-oss-20b
# expect-tp: 1

source .venv/bin/activate
vllm serve openai/gpt-oss-20b \
--seed 42 \
--generation-config vllm \
--port 8020 \
--tensor-parallel-size 1 \
--max-model-len 131072 \
--hf-overrides '{"rope_scaling": {"factor": 4, "original_max_position_embeddings": 32768, "rope_type": "yarn"}}' \
--enable-auto-tool-choice \
--tool-call-parser openai \
--gpu-memory-utilization 0.5
