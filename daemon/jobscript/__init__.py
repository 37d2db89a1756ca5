"""The batch-script recogniser: shell words, #SBATCH lines, tags, the vLLM command, enforce's edit."""
