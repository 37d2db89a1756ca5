#!/bin/bash
#SBATCH --job-name=qwen3-coder
#SBATCH --nodes=1
#SBATCH --gpus-per-node=h100:2
#SBATCH --cpus-per-task=24
#SBATCH --time=12:00:00
# expect-launch: yes
# expect-model: $WORK/models/Qwen3-Coder-30B-A3B-Instruct
# expect-tp: 2

module load python/3.12 cuda/12.8
source $WORK/venvs/vllm/bin/activate

REPO=Qwen/Qwen3-Coder-30B-A3B-Instruct
DEST=$WORK/models/$(basename $REPO)
if [[ ! -d "$DEST" ]]; then
    hf download "$REPO" --local-dir "$DEST"
fi

vllm serve "$DEST" -tp 2 \
    --enable-auto-tool-choice --tool-call-parser qwen3_coder \
    --max-model-len 131072 --port 8000
