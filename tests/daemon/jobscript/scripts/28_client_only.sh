#!/bin/bash
#SBATCH --partition=cpu
#SBATCH --time=00:30:00
# Load test against the vllm server started by job 123456 on gpu017.

URL=http://gpu017:8000/v1
curl -s $URL/models
python client.py --url $URL --model Qwen/Qwen2.5-7B-Instruct --num-prompts 1000
