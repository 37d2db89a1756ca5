#!/bin/bash
#SBATCH --gres=gpu:a100:1
#SBATCH --time=02:00:00

vllm serve meta-llama/Llama-3.1-8B-Instruct \
    --revision 0e9e39f249a16976918f6564b8830bc894c89659 \
    --tokenizer-revision 0e9e39f249a16976918f6564b8830bc894c89659 \
    --max-model-len 8192
