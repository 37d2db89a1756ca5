#!/bin/bash
#SBATCH --job-name=oss-bashc
#SBATCH --nodes=1
#SBATCH --gpus-per-node=4
#SBATCH --time=06:00:00
# expect-launch: yes
# expect-model: openai/gpt-oss-120b
# expect-tp: 4

MODEL=openai/gpt-oss-120b
srun apptainer exec --nv $HOME/vllm.sif bash -c "vllm serve ${MODEL} -tp ${SLURM_GPUS_ON_NODE} --port 8000"
