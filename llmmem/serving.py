"""Serving memory: weights per GPU in a checkpoint's real format, KV cache, activations, overhead.

SKELETON: the dataclass below is the agreed interface; estimate_serving is being written.
"""

from __future__ import annotations

from dataclasses import dataclass

from .gpus import GPU
from .spec import ModelSpec


@dataclass(frozen=True)
class ServingOptions:
    gpu: GPU
    engine: str | None = None  # None: the generic estimate; "vllm": predict vLLM's start-up figures
    tp: int = 1
    pp: int = 1
    dtype: str | None = None  # bfloat16 | float16 | float32; None: the checkpoint's own
    quantization: str | None = None  # fp8 | w8a8 | w4a16 | awq | gptq | bnb-nf4 | mxfp4; None: as the checkpoint
    kv_cache_dtype: str = "auto"  # auto | fp16 | bf16 | fp8
    # generic estimate
    context: int | None = None  # tokens per sequence; None: the model's max_position_embeddings or 4096
    batch: int = 1  # concurrent sequences
    # vLLM
    gpu_memory_utilization: float = 0.9
    max_num_batched_tokens: int | None = None
    max_num_seqs: int | None = None
    max_model_len: int | None = None


def estimate_serving(spec: ModelSpec, options: ServingOptions) -> dict:
    raise NotImplementedError("serving estimate: in progress")
