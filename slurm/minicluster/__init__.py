"""Test and demo harness: a real one-host Slurm cluster, accounting, the demo, the stand-ins."""
