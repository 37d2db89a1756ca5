"""STAND-IN for `python -m vllm.entrypoints.openai.api_server` (demo and tests only): prints what a real
server would have been started with and what Slurm and OmniPilot gave the job, then exits."""

import os
import socket
import sys

print("stand-in vllm api_server (not a real server): " + " ".join(sys.argv[1:]))
print(f"host={socket.gethostname().split('.')[0]} SLURMD_NODENAME={os.environ.get('SLURMD_NODENAME', '')} "
      f"SLURM_JOB_PARTITION={os.environ.get('SLURM_JOB_PARTITION', '')}")
print(f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '')} "
      f"SLURM_GPUS_ON_NODE={os.environ.get('SLURM_GPUS_ON_NODE', '')}")
print(" ".join(f"{k}={os.environ.get(k, '')}" for k in ("OMNIPILOT_TP", "OMNIPILOT_QUANTIZATION", "OMNIPILOT_MODEL")))
