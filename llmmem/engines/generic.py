"""The generic serving estimate: weights + KV cache for `context` x `batch` + activations + runtime
overhead, per GPU under tensor/pipeline parallelism, for any engine that preallocates nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..serving import (
    ServingEstimate,
    ServingOptions,
    activation_dtype_bytes,
    forward_activation_bytes,
    kv_dtype_bytes,
    layout_fields,
    logits_bytes,
    runtime_overhead_bytes,
    stage_cache_layout,
    weight_format,
    weights_terms,
)
from ..spec import ModelSpec
from .search import largest_fitting

DEFAULT_CHUNK_TOKENS = 8192  # vLLM's default prefill chunk on large GPUs
DEFAULT_MAX_SEQS = 1024  # vLLM's default max_num_seqs on large GPUs: the sequences a scheduler runs at once
GENERIC_NOTES = (
    "weights: linear layers in the format's bytes (scales included), the rest in the serving dtype; "
    "vocab padded to 64 and split by tp; first pipeline stage shown",
    "KV cache: attention layers x 2 x KV heads per rank x head_dim x dtype per token (MLA: one latent per "
    "layer, plus DeepSeek-V3.2's indexer key); sliding-window and chunked layers hold at most their window; "
    "Mamba / gated delta-net / short-conv layers hold a fixed conv + SSM state per sequence instead",
    "activations: one prefill chunk (min(context x batch, 8192) tokens) through the largest layer, "
    "or the last stage's logits, whichever is larger",
    "overhead: CUDA context 0.51 GiB, plus ~2 GiB NCCL/all-reduce buffers when tp > 1 (vLLM 0.19 on H100)",
    "kv_cache_tokens / max_concurrency: what the GPU memory left after weights, activations and "
    "overhead holds, at this context",
)


@dataclass(frozen=True)
class GenericEstimate(ServingEstimate):
    context: int
    batch: int
    # the longest context `batch` sequences can have on this layout (capped at the model's maximum)
    max_context: int


class _Layout:
    """The terms that do not depend on context or batch, computed once per layout."""

    def __init__(self, spec: ModelSpec, options: ServingOptions):
        self.spec, self.options = spec, options
        self.dtype_bytes = activation_dtype_bytes(spec, options.dtype)
        self.kv_bytes = kv_dtype_bytes(options.kv_cache_dtype, self.dtype_bytes)
        self.fmt = weight_format(spec, options.quantization, self.dtype_bytes)
        self.weights = [weights_terms(spec, self.fmt, self.dtype_bytes, options.tp, options.pp, s) for s in range(options.pp)]
        self.caches = [
            stage_cache_layout(
                spec, options.tp, self.kv_bytes, options.pp, s, dtype_bytes=self.dtype_bytes, kv_cache_dtype=options.kv_cache_dtype
            )
            for s in range(options.pp)
        ]
        self.overhead = runtime_overhead_bytes(options.tp)

    def stage(self, stage: int, context: int, batch: int) -> dict:
        spec, options = self.spec, self.options
        tp, pp = options.tp, options.pp
        weights_total = sum(self.weights[stage].values())
        cache = self.caches[stage]
        per_sequence = cache.bytes_per_sequence(context)
        kv = per_sequence * batch
        # NOTE: engines prefill in chunks (vLLM's default 8192 tokens on big GPUs), so the forward
        # pass never holds more than one chunk of activations, however long the context.
        chunk = min(context * batch, options.max_num_batched_tokens or DEFAULT_CHUNK_TOKENS)
        activations = forward_activation_bytes(spec, chunk, self.dtype_bytes, tp)
        if stage == pp - 1:
            activations = max(activations, logits_bytes(spec, batch) + chunk * (spec.hidden_size or 0) * self.dtype_bytes)
        total = weights_total + kv + activations + self.overhead
        per_token = cache.kv_bytes_per_token
        state = cache.state_bytes_per_sequence
        free = options.gpu.memory_bytes - (weights_total + activations + self.overhead)
        return {
            "stage": stage,
            "weights_bytes": weights_total,
            "weights_breakdown_bytes": self.weights[stage],
            "kv_cache_bytes": kv,
            "kv_cache_bytes_per_token": per_token,
            "state_bytes_per_sequence": state,
            "activation_bytes": activations,
            "overhead_bytes": self.overhead,
            "total_bytes": total,
            # NOTE: tokens of KV the memory left holds once the `batch` sequences' fixed states are in
            "kv_tokens_that_fit": max(0, (free - state * batch) // per_token) if per_token else 0,
            "sequences_that_fit": max(0, free // per_sequence) if per_sequence else None,
        }

    def fits(self, context: int, batch: int) -> bool:
        gpu = self.options.gpu.memory_bytes
        return all(self.stage(s, context, batch)["total_bytes"] <= gpu for s in range(self.options.pp))

    def max_context(self, batch: int, cap: int) -> int:
        """Largest context in [1, cap] that `batch` sequences fit at (0 when not even 1 token does)."""
        return largest_fitting(lambda context: self.fits(context, batch), cap)


def context_cap(spec: ModelSpec, context: int) -> int:
    """The most tokens an answer may report: the model's maximum (or the asked context when longer)."""
    return max(spec.max_position_embeddings or context, context)


def estimate_generic(spec: ModelSpec, options: ServingOptions) -> GenericEstimate:
    context = options.context or spec.max_position_embeddings or 4096
    batch = options.batch
    if batch < 1 or context < 1:
        raise InputError("context length and concurrent sequences must be 1 or more")
    layout = _Layout(spec, options)
    stages = [layout.stage(s, context, batch) for s in range(options.pp)]
    worst = max(stages, key=lambda s: s["total_bytes"])
    first = stages[0]
    tokens_fit = min(s["kv_tokens_that_fit"] for s in stages)
    # NOTE: a sequence needs `context` tokens of KV in full-attention layers, at most the window in
    # sliding / chunked ones, and its fixed state in Mamba-style layers: CacheLayout.bytes_per_sequence.
    # A stage (or model: encoders) that caches nothing does not bound concurrency.
    concurrency = min((s["sequences_that_fit"] for s in stages if s["sequences_that_fit"] is not None), default=0)
    notes = GENERIC_NOTES
    if spec.caches_nothing:
        # NOTE: no KV cache (encoder-only): nothing bounds concurrency but the scheduler's cap, as the planner says.
        concurrency = options.max_num_seqs or DEFAULT_MAX_SEQS
        notes += (f"no KV cache (encoder-only): concurrency is the scheduler's cap, max_num_seqs {concurrency:,}",)
    return GenericEstimate(
        **layout_fields(options, layout.dtype_bytes, layout.fmt),
        weights_bytes_per_gpu=first["weights_bytes"],
        weights_breakdown_bytes=first["weights_breakdown_bytes"],
        activation_bytes=first["activation_bytes"],
        non_torch_bytes=first["overhead_bytes"],
        kv_cache_bytes_per_gpu=first["kv_cache_bytes"],
        kv_cache_bytes_per_token=first["kv_cache_bytes_per_token"],
        state_bytes_per_sequence=first["state_bytes_per_sequence"],
        cache_layers=tuple(layout.caches[0].to_dict()["layer_kinds"]),
        kv_cache_tokens=tokens_fit,
        max_concurrency=concurrency,
        total_bytes_per_gpu=worst["total_bytes"],
        fits=all(s["total_bytes"] <= options.gpu.memory_bytes for s in stages),
        stages=tuple(stages) if options.pp > 1 else None,
        notes=notes,
        context=context,
        batch=batch,
        max_context=layout.max_context(batch, context_cap(spec, context)),
    )
