#!/bin/bash
#SBATCH -J olmo3-think
#SBATCH -t 1-00:00:00
#SBATCH -o log/vllm-server-%j.log
#SBATCH -p compute
#SBATCH -N 1
#SBATCH --ntasks-per-node 1
#SBATCH --gres gpu:nvidia_rtx_a6000:4

. .venv/bin/activate

python -m vllm.entrypoints.openai.api_server \
    --model /home/share/models/Olmo-3-32B-Think \
    --served-model-name olmo3-32b \
    --trust-remote-code \
    --tensor-parallel-size 4 \
    --max-model-len 64K \
    --reasoning-parser deepseek_r1 \
    --port 58111
# python -m vllm.entrypoints.openai.api_server \
#     --model /home/share/models/Olmo-3-7B-Instruct \
#     --tensor-parallel-size 1
# expect-launch: yes
# expect-model: /home/share/models/Olmo-3-32B-Think
# expect-tp: 4
