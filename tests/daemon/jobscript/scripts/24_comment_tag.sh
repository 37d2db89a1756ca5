#!/bin/bash
#SBATCH --partition=h100
#SBATCH --gres=gpu:h100:1
#SBATCH --time=03:00:00
#SBATCH --comment="chatbot demo; omnipilot: concurrency=16 slo_ttft_ms=500 precision=fp8"

vllm serve meta-llama/Llama-3.1-8B-Instruct --max-num-seqs 256
