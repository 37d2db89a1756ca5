#!/bin/bash
#SBATCH --gres=gpu:a100:1
#SBATCH --time=01:00:00

python - <<'PY'
from vllm import LLM, SamplingParams
llm = LLM(model="Qwen/Qwen2.5-7B-Instruct", tensor_parallel_size=1)
out = llm.generate(["Hello"], SamplingParams(max_tokens=32))
print(out[0].outputs[0].text)
PY
