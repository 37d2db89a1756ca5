#!/bin/bash
#SBATCH --job-name=offline-gen
#SBATCH --gres=gpu:1
#SBATCH --time=03:00:00
# expect-launch: no

source ~/envs/gen/bin/activate
python - <<'PY'
from vllm import LLM, SamplingParams
llm = LLM(model="Qwen/Qwen3-8B", tensor_parallel_size=1)
outs = llm.generate(["Hello"], SamplingParams(max_tokens=32))
print(outs[0].outputs[0].text)
PY
