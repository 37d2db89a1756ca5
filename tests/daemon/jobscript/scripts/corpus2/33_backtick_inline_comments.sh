#!/bin/bash
#SBATCH --job-name=oss-annotated
#SBATCH --gres=gpu:2
#SBATCH --time=01:00:00
# expect-launch: yes
# expect-model: openai/gpt-oss-20b
# expect-tp: 2

nohup python -u -m                    `#unbuffered, in the background` \
	vllm.entrypoints.openai.api_server \
	--host 0.0.0.0                    `#reachable from the login node` \
	--port 8010 \
	--model openai/gpt-oss-20b        `#the hub id` \
	--served-model-name gpt-oss-20b \
	--tensor-parallel-size 2          `#one per GPU` \
	> vllm_oss.log 2>&1 &
wait
