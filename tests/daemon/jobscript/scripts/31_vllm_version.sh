#!/bin/bash
#SBATCH --gres=gpu:1
#SBATCH --time=00:05:00

nvidia-smi
vllm --version
python -c "import vllm, torch; print(vllm.__version__, torch.cuda.device_count())"
