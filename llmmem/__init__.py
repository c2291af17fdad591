"""llmmem: how much GPU memory it takes to serve a large language model, and on how many GPUs."""

__version__ = "0.1.0"
