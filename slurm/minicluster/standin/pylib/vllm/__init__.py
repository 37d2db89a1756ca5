"""STAND-IN for the vllm package on machines without GPUs (demo and tests only): never used in production."""
