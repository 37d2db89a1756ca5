#!/bin/bash
# was: salloc -p h100 --gres=gpu:2 -c 32 -t 4:00:00 ; then the srun line by hand
#SBATCH -p h100
#SBATCH --gres=gpu:2
#SBATCH -c 32
#SBATCH -t 4:00:00
# expect-launch: yes
# expect-model: openai/gpt-oss-120b
# expect-tp: 2

srun -n1 --gres=gpu:2 --cpu-bind=none vllm serve openai/gpt-oss-120b --tensor-parallel-size 2 --async-scheduling --port 8000
