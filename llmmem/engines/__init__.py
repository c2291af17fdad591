"""Serving engines: what each adds on top of the model (vllm.py: its memory profiling and KV allocation)."""
