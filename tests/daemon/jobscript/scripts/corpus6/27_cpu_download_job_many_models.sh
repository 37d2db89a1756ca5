#!/bin/bash
#SBATCH --time 0-5
#SBATCH --mem 50G
#SBATCH --partition cpu
#SBATCH --output=slurm-logs/download-%j.out
# expect-launch: no

export HF_HOME=/scratch/$USER/huggingface
export HF_HUB_ENABLE_HF_TRANSFER=1
for repo in Qwen/Qwen3-8B Qwen/Qwen3-32B meta-llama/Llama-3.3-70B-Instruct; do
    huggingface-cli download $repo --local-dir /scratch/$USER/models/$(basename $repo)
done
echo "now: sbatch serve_vllm.sh"
