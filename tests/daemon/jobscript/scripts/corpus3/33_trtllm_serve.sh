#!/bin/bash
#SBATCH --job-name=trtllm
#SBATCH --gres=gpu:h100:2
#SBATCH --time=04:00:00
# expect-launch: no

# compared against the vllm numbers from last week; this job runs TensorRT-LLM only
srun --container-image=nvcr.io/nvidia/tensorrt-llm/release:1.0.0 \
     --container-mounts=$HOME/models:/models \
     trtllm-serve /models/Qwen3-8B --tp_size 2 --max_batch_size 64 --port 8000
