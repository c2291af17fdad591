"""Serving engines side by side, one module each, and the table that dispatches to them.

Each engine is a function `(spec, options) -> ServingEstimate` (a frozen dataclass with to_dict()):
- generic: weights + KV cache + activations + overhead for any engine (generic.py);
- vllm: what vLLM v1 prints at start-up and whether it starts (vllm.py);
- transformers: PyTorch's allocated peak of a transformers forward or generate() (transformers.py).
"""

from __future__ import annotations

from typing import Callable

from ..errors import InputError
from ..serving import ServingEstimate, ServingOptions, check_layout
from ..spec import ModelSpec
from .generic import estimate_generic
from .transformers import estimate_transformers_engine
from .vllm import estimate_vllm

ENGINES: dict[str, Callable[[ModelSpec, ServingOptions], ServingEstimate]] = {
    "generic": estimate_generic,
    "vllm": estimate_vllm,
    "transformers": estimate_transformers_engine,
}


def engine_function(name: str | None) -> Callable[[ModelSpec, ServingOptions], ServingEstimate]:
    key = (name or "generic").strip().lower()
    if key not in ENGINES:
        raise InputError(f"unknown engine {name!r}: use one of {', '.join(ENGINES)}")
    return ENGINES[key]


def estimate_serving(spec: ModelSpec, options: ServingOptions) -> ServingEstimate:
    """Every memory term per GPU, in bytes, from the engine `options.engine` names."""
    function = engine_function(options.engine)
    check_layout(spec, options)
    return function(spec, options)
