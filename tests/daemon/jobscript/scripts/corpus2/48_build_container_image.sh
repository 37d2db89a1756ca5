#!/bin/bash
#SBATCH --job-name=build-sif
#SBATCH --cpus-per-task=8
#SBATCH --time=02:00:00
# expect-launch: no

module load apptainer
apptainer build --fakeroot $SCRATCH/images/vllm-openai_v0.10.1.sif docker://vllm/vllm-openai:v0.10.1
apptainer exec $SCRATCH/images/vllm-openai_v0.10.1.sif python3 -c "import vllm; print(vllm.__version__)"
