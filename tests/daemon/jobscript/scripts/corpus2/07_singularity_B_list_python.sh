#!/bin/bash
#SBATCH --job-name=mistral-small
#SBATCH --nodes=1
#SBATCH --gpus=2
#SBATCH --time=08:00:00
# expect-launch: yes
# expect-model: /project/llm/Mistral-Small-3.1-24B-Instruct-2503
# expect-tp: 2

WEIGHTS=/project/llm
CONTAINER=$HOME/images/vllm.sif

singularity exec --nv --fakeroot --writable-tmpfs \
    -B /scratch:/scratch,$WEIGHTS:/weights:ro \
    $CONTAINER \
    python3 -m vllm.entrypoints.openai.api_server \
        --model /weights/Mistral-Small-3.1-24B-Instruct-2503 \
        --tokenizer-mode mistral \
        --tensor-parallel-size 2
