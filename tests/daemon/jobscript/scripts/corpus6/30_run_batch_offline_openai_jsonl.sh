#!/bin/bash
#SBATCH --gres=gpu:1
#SBATCH --time=03:00:00
# expect-launch: no

source ~/venvs/vllm/bin/activate
# the OpenAI batch file format, run offline: no server
python -m vllm.entrypoints.openai.run_batch -i requests.jsonl -o results.jsonl --model meta-llama/Llama-3.1-8B-Instruct
