"""Cluster state for the request path: a snapshot refreshed in the background from Slurm."""
