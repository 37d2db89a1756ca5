#! /bin/bash
#SBATCH --nodes=1
#SBATCH --gres=gpu:a100:2
#SBATCH --time=12:00:00
#SBATCH --mem=120000
# expect-launch: yes
# expect-model: Qwen/Qwen3-8B
# expect-tp: 1

# hf download qwen/Qwen3-8B --local-dir /ptmp/$USER/huggingface/hub   (done once on a login node)
export HF_HOME="/ptmp/$USER/huggingface"
export HF_HUB_CACHE="/ptmp/$USER/huggingface/hub"
export VLLM_ATTENTION_BACKEND=TRITON_ATTN
export TORCH_CUDA_ARCH_LIST=8.0

# two GPUs as two pipeline stages
vllm serve \
    Qwen/Qwen3-8B \
    --port 8000 \
    --host 0.0.0.0 \
    --pipeline-parallel-size 2 \
    --dtype bfloat16 \
    --gpu-memory-utilization 0.85
