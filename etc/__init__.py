"""Packaged data: the model and GPU catalogs and the example configuration (read with importlib.resources)."""
