"""gpu-preflight: check the GPU software stack before a model runs."""

__version__ = "0.1.0"
