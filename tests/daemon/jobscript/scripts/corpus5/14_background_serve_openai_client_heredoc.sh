#!/bin/bash
#SBATCH --job-name=gemma3-chat
#SBATCH --partition=gpu-a100
#SBATCH --gres=gpu:a100:2
#SBATCH --cpus-per-task=12
#SBATCH --mem=96G
#SBATCH --time=02:00:00
# expect-launch: yes
# expect-model: google/gemma-3-27b-it
# expect-tp: 2

module purge
module load miniforge/24.11
conda activate /work/$USER/envs/vllm

export HF_HOME=/work/$USER/.cache/huggingface

vllm serve google/gemma-3-27b-it \
  --tensor-parallel-size 2 \
  --gpu-memory-utilization 0.9 \
  --max-model-len 8192 \
  --port 8000 &
SERVER=$!

for i in $(seq 1 120); do
  curl -sf http://localhost:8000/v1/models > /dev/null && break
  sleep 5
done

python - <<'PY'
from openai import OpenAI
client = OpenAI(base_url="http://localhost:8000/v1", api_key="EMPTY")
r = client.chat.completions.create(
    model="google/gemma-3-27b-it",
    messages=[{"role": "user", "content": "Summarise PagedAttention in one line."}],
)
print(r.choices[0].message.content)
PY

wait $SERVER
