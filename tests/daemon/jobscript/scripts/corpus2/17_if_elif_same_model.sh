#!/bin/bash
#SBATCH --job-name=phi4
#SBATCH --gres=gpu:1
#SBATCH --time=06:00:00
# expect-launch: yes
# expect-model: microsoft/phi-4
# expect-tp: 1

# the context length depends on the card; the model does not
if [[ "$SLURM_JOB_PARTITION" == "h100" ]]; then
    MODEL=microsoft/phi-4
    MAX_LEN=16384
elif [[ "$SLURM_JOB_PARTITION" == "a100" ]]; then
    MODEL=microsoft/phi-4
    MAX_LEN=8192
else
    MODEL="microsoft/phi-4"
    MAX_LEN=4096
fi

vllm serve "$MODEL" --max-model-len "$MAX_LEN" --port 8000
