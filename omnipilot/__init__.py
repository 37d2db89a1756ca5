"""OmniPilot: advice on vLLM serving launches for shared, heterogeneous Slurm GPU clusters."""

__version__ = "0.1.0"
