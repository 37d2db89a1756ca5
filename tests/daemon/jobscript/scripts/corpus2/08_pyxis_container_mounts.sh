#!/bin/bash
#SBATCH --job-name=r1-distill
#SBATCH --nodes=1
#SBATCH --gpus-per-node=4
#SBATCH --time=06:00:00
# expect-launch: yes
# expect-model: /lustre/fs1/models/DeepSeek-R1-Distill-Qwen-32B
# expect-tp: 4

IMG=/lustre/fs1/images/vllm+vllm-openai+v0.9.2.sqsh

srun --container-image=$IMG \
     --container-mounts=/lustre/fs1/hf:/hf,/lustre/fs1/models/DeepSeek-R1-Distill-Qwen-32B:/model \
     --no-container-mount-home \
     --container-env=HF_HOME \
     vllm serve /model --tensor-parallel-size 4 --max-model-len 32768 --reasoning-parser deepseek_r1
