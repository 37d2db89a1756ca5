#!/bin/bash
#SBATCH --job-name=lmdeploy-internvl
#SBATCH --gres=gpu:2
#SBATCH --time=06:00:00
# expect-launch: no

# lmdeploy instead of vllm: faster for this VLM on our A100s
conda activate lmdeploy
lmdeploy serve api_server OpenGVLab/InternVL3-8B --tp 2 --server-port 23333 --backend turbomind
