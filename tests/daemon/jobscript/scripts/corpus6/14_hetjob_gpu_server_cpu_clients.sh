#!/bin/bash
#SBATCH --job-name=serve-and-annotate
#SBATCH --time=06:00:00
#SBATCH --partition=gpu --nodes=1 --gres=gpu:4 --cpus-per-task=32
#SBATCH hetjob
#SBATCH --partition=cpu --nodes=2 --ntasks-per-node=16
# expect-launch: yes
# expect-model: Qwen/Qwen3-32B
# expect-tp: 4

SERVER=$(scontrol show hostnames $SLURM_JOB_NODELIST_HET_GROUP_0 | head -n1)
srun --het-group=0 vllm serve Qwen/Qwen3-32B --tensor-parallel-size 4 --port 8000 &
sleep 300
srun --het-group=1 python annotate.py --endpoint http://$SERVER:8000/v1 --model Qwen/Qwen3-32B
kill %1
