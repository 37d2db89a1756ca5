#!/bin/bash
#SBATCH -p gpu
#SBATCH --gres=gpu:8
#SBATCH -c 64
#SBATCH -t 12:00:00
# expect-launch: yes
# expect-model: openai/gpt-oss-20b
# expect-tp: 8

taskset -c 0-31 python -u \
	-m vllm.entrypoints.openai.api_server \
	--host 0.0.0.0 \
	--port 8010 \
	--model openai/gpt-oss-20b \
	--served-model-name code-gen \
	--tensor-parallel-size 8
