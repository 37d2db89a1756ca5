#!/bin/bash
#SBATCH --gpus-per-node=1
#SBATCH --time=00:45:00
# expect-launch: yes
# expect-model: unsloth/Qwen3-14B-unsloth-bnb-4bit
# expect-tp: 1

MODEL="unsloth/Qwen3-14B-unsloth-bnb-4bit"
MAX_MODEL_LEN=8192
LOAD_FORMAT="bitsandbytes"
QUANTIZATION="bitsandbytes"

vllm serve "$MODEL" \
  --port 41401 \
  --max-model-len "$MAX_MODEL_LEN" \
  --load-format "$LOAD_FORMAT" \
  --quantization "$QUANTIZATION" \
  --trust-remote-code
# --no-enable-prefix-caching \
