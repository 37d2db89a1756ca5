#!/bin/bash
#SBATCH --job-name=vl-offline
#SBATCH --gres=gpu:2
#SBATCH --time=03:00:00
# expect-launch: no

conda activate vllm
python - <<'PY'
from vllm import LLM, SamplingParams
llm = LLM(
    model="Qwen/Qwen2.5-VL-7B-Instruct",
    tensor_parallel_size=2,
    limit_mm_per_prompt={"image": 25, "video": 1},
    max_model_len=32700,
)
outs = llm.generate(["Describe a cat."], SamplingParams(max_tokens=64))
print(outs[0].outputs[0].text)
PY
