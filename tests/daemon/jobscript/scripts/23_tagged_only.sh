#!/bin/bash
#SBATCH --partition=a100
#SBATCH --gres=gpu:a100:1
#SBATCH --time=04:00:00
#OMNIPILOT model=Qwen/Qwen2.5-7B-Instruct concurrency=32 context=4096
#OMNIPILOT slo_ttft_ms=1500

./start_server.sh --port 8080
