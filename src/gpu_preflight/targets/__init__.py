"""What the user wants to run: torch wheels and CUDA runtimes, from flags, pip files and pyproject."""
