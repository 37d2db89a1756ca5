#!/bin/bash
#SBATCH --job-name=q3-8b-container
#SBATCH --gres=gpu:1
#SBATCH --qos=m2
#SBATCH --time=08:00:00
# expect-launch: yes
# expect-model: /model-weights/Qwen3-8B
# expect-tp: 1

source /opt/lmod/lmod/init/bash
export MODULEPATH=/opt/modulefiles:/pkgs/modulefiles
module load singularity-ce
export SINGULARITYENV_SLURM_CONF=/opt/slurm/etc/slurm.conf

singularity exec \
--nv \
--bind /model-weights:/model-weights \
--bind /projects/llm:/projects/llm \
--bind $HOME:$HOME \
/projects/llm/unsloth-vllm.sif \
uv run vllm serve /model-weights/Qwen3-8B --max-model-len 40960
