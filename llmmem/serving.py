"""Serving memory: weights per GPU in a checkpoint's real format, KV cache, activations, overhead.

Two modes behind one call, `estimate_serving(spec, options)`:
- generic (options.engine None): weights + KV cache for `context` x `batch` + activations + runtime
  overhead, per GPU under tensor/pipeline parallelism;
- "vllm": what vLLM v1 prints at start-up (llmmem/engines/vllm.py).
Every term is a small pure function; the returned dict shows each one, in bytes (ints).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .errors import InputError
from .gpus import GPU
from .quantization import FORMATS, WeightFormat, format_from_quantization_config, get_format
from .spec import QUANTIZABLE_KEYS, SLIDING_ATTENTION, ModelSpec

GiB = 2**30

# NOTE: vLLM's DEFAULT_VOCAB_PADDING_SIZE (model_executor/layers/vocab_parallel_embedding.py): the
# embedding and LM head rows are padded to a multiple of 64 before being split across ranks.
VOCAB_PADDING = 64

# Runtime memory outside PyTorch's allocator on every GPU (CUDA context, cuBLAS/cuDNN handles and
# kernels): vLLM 0.19 measured 0.51 GiB before loading any model on an H100 (fixture
# vllm_h100_runs.csv, column init_non_torch_gib, every tp=1 pp=1 row).
CUDA_CONTEXT_BYTES = int(0.51 * GiB)
# NCCL and custom all-reduce buffers once tensor parallelism is on: +2.07 GiB at tp=2, +2.13 GiB at
# tp=4 during vLLM's profiling run (fixture column non_torch_forward_gib, the tp>1 rows).
TP_COMM_BASE_BYTES = int(2.04 * GiB)
TP_COMM_PER_PEER_BYTES = int(0.03 * GiB)

DTYPE_BYTES = {"float32": 4, "fp32": 4, "float16": 2, "fp16": 2, "half": 2, "bfloat16": 2, "bf16": 2}
KV_DTYPE_BYTES = {"fp16": 2, "bf16": 2, "float16": 2, "bfloat16": 2, "fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1}


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


# ---------------------------------------------------------------------------------------------
# dtypes and formats


def activation_dtype_bytes(spec: ModelSpec, dtype: str | None) -> int:
    """Bytes of the serving dtype. None/"auto": the checkpoint's 16-bit dtype; an fp32 checkpoint is
    served in 16-bit, as vLLM's dtype="auto" does (config/model.py, _resolve_auto_dtype)."""
    name = (dtype or "auto").lower()
    if name == "auto":
        return 2
    if name not in DTYPE_BYTES:
        raise InputError(f"unknown dtype {dtype!r}: use bfloat16, float16 or float32")
    return DTYPE_BYTES[name]


def kv_dtype_bytes(kv_cache_dtype: str, dtype_bytes: int) -> int:
    """KV cache element size: "auto" follows the serving dtype (vLLM cache_config.cache_dtype)."""
    name = (kv_cache_dtype or "auto").lower()
    if name == "auto":
        return dtype_bytes
    if name not in KV_DTYPE_BYTES:
        raise InputError(f"unknown KV cache dtype {kv_cache_dtype!r}: use auto, fp16, bf16 or fp8")
    return KV_DTYPE_BYTES[name]


def weight_format(spec: ModelSpec, quantization: str | None, dtype_bytes: int) -> WeightFormat:
    """The linear layers' storage format: the one asked for, else the checkpoint's own
    (config.json quantization_config), else the serving dtype."""
    if quantization:
        return get_format(quantization)
    own = format_from_quantization_config(spec.quantization)
    if own is not None:
        return own
    return FORMATS["fp32"] if dtype_bytes == 4 else FORMATS["fp16"]


# ---------------------------------------------------------------------------------------------
# parallel layout


def pp_layer_counts(num_layers: int, pp: int) -> list[int]:
    """Decoder layers per pipeline stage, as vLLM's get_pp_indices splits them: an even share, with
    the remainder given one each to the stages just before the last (distributed/utils.py)."""
    if pp > num_layers:
        raise InputError(f"pipeline parallel size {pp} exceeds the model's {num_layers} layers: use fewer pipeline stages")
    counts = [num_layers // pp] * pp
    for i in range(2, num_layers % pp + 2):
        counts[-i] += 1
    return counts


def stage_layer_range(num_layers: int, pp: int, stage: int) -> tuple[int, int]:
    counts = pp_layer_counts(num_layers, pp)
    start = sum(counts[:stage])
    return start, start + counts[stage]


def kv_heads_per_rank(spec: ModelSpec, tp: int) -> int:
    """KV heads each tensor-parallel rank holds: split while tp <= KV heads, else each rank keeps one
    replicated head (vLLM QKVParallelLinear: num_kv_heads = max(1, total_num_kv_heads // tp))."""
    kv_heads = spec.num_kv_heads or spec.num_attention_heads or 1
    return max(1, kv_heads // tp)


def padded_vocab(vocab_size: int, padding: int = VOCAB_PADDING) -> int:
    return -(-vocab_size // padding) * padding


# ---------------------------------------------------------------------------------------------
# weights


def _layer_fraction(spec: ModelSpec, key: str, start: int, end: int) -> Fraction:
    """Share of a per-layer parameter group held by decoder layers [start, end)."""
    layers = spec.num_layers or 1
    dense = spec.num_dense_layers or 0
    if spec.is_moe and dense and key in ("mlp", "experts", "shared_experts", "router"):
        dense_here = max(0, min(end, dense) - start)
        if key == "mlp":
            return Fraction(dense_here, dense)
        return Fraction((end - start) - dense_here, layers - dense)
    return Fraction(end - start, layers)


def _tp_fraction(spec: ModelSpec, key: str, tp: int) -> Fraction:
    """Share of a parameter group one tensor-parallel rank holds (vLLM linear.py / vocab_parallel_embedding.py)."""
    if key in ("attention_qo", "mlp", "experts", "shared_experts", "embedding", "lm_head"):
        return Fraction(1, tp)
    if key == "attention_kv":
        kv_heads = spec.num_kv_heads or spec.num_attention_heads or 1
        return Fraction(kv_heads_per_rank(spec, tp), kv_heads)
    return Fraction(1)  # replicated: MLA down projections, routers, norms, position embeddings, other


def weights_terms(
    spec: ModelSpec, fmt: WeightFormat, dtype_bytes: int, tp: int = 1, pp: int = 1, stage: int = 0
) -> dict[str, int]:
    """Bytes of each parameter group on one GPU of pipeline stage `stage` (0 = first).

    Linear groups (spec.QUANTIZABLE_KEYS) take the format's bytes per parameter, the rest the 16-bit
    (or fp32) serving dtype. Embedding and LM head rows are padded to a multiple of 64 and split by
    vocabulary; the first stage holds the embeddings, the last the final norm and the LM head (a tied
    LM head becomes its own copy there when pp > 1, as vLLM's ParallelLMHead loads it).
    """
    if not spec.breakdown:
        raise InputError(f"{spec.name} has no parameter breakdown: serving estimates need its config.json")
    layers = spec.num_layers or 1
    start, end = stage_layer_range(layers, pp, stage)
    first, last = stage == 0, stage == pp - 1
    vocab_scale = Fraction(padded_vocab(spec.vocab_size), spec.vocab_size) if spec.vocab_size else Fraction(1)
    terms: dict[str, int] = {}
    for key, count in spec.breakdown.items():
        if not count:
            continue
        if key in ("embedding", "position_embedding"):
            share = Fraction(1) if first else Fraction(0)
        elif key == "lm_head":
            share = Fraction(1) if last else Fraction(0)
        elif key == "norms":
            # NOTE: one final norm of hidden_size sits on the last stage; the rest are per layer.
            final = spec.hidden_size or 0
            per_layer = count - final
            terms[key] = int(
                (per_layer * Fraction(end - start, layers) + (final if last else 0)) * dtype_bytes
            )
            continue
        elif key == "other":
            share = Fraction(end - start, layers)
        else:
            share = _layer_fraction(spec, key, start, end)
        if key in ("embedding", "lm_head"):
            share *= vocab_scale
        params = count * share * _tp_fraction(spec, key, tp)
        if key in QUANTIZABLE_KEYS and (not fmt.experts_only or key == "experts"):
            bytes_ = params * fmt.bytes_per_parameter
        else:
            bytes_ = params * dtype_bytes
        terms[key] = int(-(-bytes_ // 1))
    if pp > 1 and last and spec.tie_word_embeddings and "lm_head" not in spec.breakdown:
        embedding = spec.breakdown.get("embedding", 0)
        terms["lm_head"] = int(embedding * vocab_scale / tp * dtype_bytes)
    return terms


# ---------------------------------------------------------------------------------------------
# KV cache


def kv_bytes_per_token_per_layer(spec: ModelSpec, tp: int, kv_bytes: int) -> int:
    """KV cache bytes one token takes in one attention layer on one GPU.

    Standard attention: K and V, each KV heads per rank x head_dim (config's head_dim when given).
    MLA (DeepSeek V2/V3, Kimi): one compressed latent of kv_lora_rank + qk_rope_head_dim per token,
    the same on every rank (vLLM MLAAttentionSpec: num_kv_heads 1, not split by tensor parallelism).
    """
    if spec.is_mla:
        return (spec.kv_lora_rank + (spec.qk_rope_head_dim or 0)) * kv_bytes
    head_dim = spec.head_dim or (spec.hidden_size // spec.num_attention_heads)
    return 2 * kv_heads_per_rank(spec, tp) * head_dim * kv_bytes


def layer_kinds(spec: ModelSpec, start: int = 0, end: int | None = None) -> list[str]:
    """Attention kind of each decoder layer in [start, end): "full_attention" unless the spec says
    which layers use a sliding window."""
    layers = spec.num_layers or 0
    end = layers if end is None else end
    kinds = list(spec.layer_types) if len(spec.layer_types) == layers else ["full_attention"] * layers
    if spec.sliding_window is None:
        kinds = ["full_attention"] * layers
    return kinds[start:end]


def kv_cache_bytes_per_token(spec: ModelSpec, tp: int, kv_bytes: int, pp: int = 1, stage: int = 0) -> int:
    """KV bytes one token of context takes on one GPU of `stage`, every attention layer counted
    (sliding-window layers hold at most `sliding_window` tokens: see kv_cache_bytes)."""
    start, end = stage_layer_range(spec.num_layers, pp, stage)
    return (end - start) * kv_bytes_per_token_per_layer(spec, tp, kv_bytes)


def kv_cache_bytes(spec: ModelSpec, tokens: int, sequences: int, tp: int, kv_bytes: int, pp: int = 1, stage: int = 0) -> int:
    """KV cache bytes on one GPU for `sequences` sequences of `tokens` tokens each: full-attention
    layers keep every token, sliding-window layers at most the window."""
    start, end = stage_layer_range(spec.num_layers, pp, stage)
    per_layer = kv_bytes_per_token_per_layer(spec, tp, kv_bytes)
    total = 0
    for kind in layer_kinds(spec, start, end):
        kept = min(tokens, spec.sliding_window) if kind == SLIDING_ATTENTION and spec.sliding_window else tokens
        total += kept * per_layer
    return total * sequences


# ---------------------------------------------------------------------------------------------
# activations and overhead (generic mode)


def forward_activation_bytes(spec: ModelSpec, tokens: int, dtype_bytes: int, tp: int = 1, include_moe: bool = True) -> int:
    """Largest set of tensors alive at once in one decoder layer's forward for `tokens` tokens.

    Dense MLP (the usual peak): normed input + residual (2 x hidden) + gate/up output (2 x I / tp) +
    activation output (I / tp). MoE: each token's top-k experts run on a routed copy, so the fused
    kernel holds top_k x (2 x I_moe + I_moe) / tp + top_k x hidden per token (vLLM fused_moe caches).
    Attention: q, k, v and output (hidden + 2 x KV width) per rank. All in the serving dtype.
    include_moe=False leaves the routed experts out (the vLLM mode models them from the fused-MoE
    kernel's own workspace: engines/vllm.moe_workspace_bytes).
    """
    hidden = spec.hidden_size or 0
    heads = spec.num_attention_heads or 1
    head_dim = spec.head_dim or (hidden // heads if heads else 0)
    kv_width = 2 * (spec.num_kv_heads or heads) * head_dim
    attention = 2 * hidden + (heads * head_dim + kv_width) / tp + heads * head_dim / tp
    per_token = attention
    if spec.intermediate_size and (not spec.is_moe or spec.num_dense_layers or not spec.moe_intermediate_size):
        per_token = max(per_token, 2 * hidden + 3 * spec.intermediate_size / tp)
    if spec.is_moe and include_moe:
        inter = spec.moe_intermediate_size or spec.intermediate_size or 0
        top_k = spec.experts_per_token or 1
        per_token = max(per_token, 2 * hidden + top_k * (3 * inter / tp + hidden))
    return int(tokens * per_token * dtype_bytes)


def logits_bytes(spec: ModelSpec, sequences: int) -> int:
    """fp32 logits of one decoding step: one row of the (padded) vocabulary per sequence."""
    return sequences * padded_vocab(spec.vocab_size or 0) * 4


def runtime_overhead_bytes(tp: int) -> int:
    """Memory outside PyTorch tensors: the CUDA context, plus NCCL/all-reduce buffers when tp > 1
    (figures measured by vLLM 0.19 on an H100: see the constants' comments)."""
    if tp > 1:
        return CUDA_CONTEXT_BYTES + TP_COMM_BASE_BYTES + TP_COMM_PER_PEER_BYTES * (tp - 2)
    return CUDA_CONTEXT_BYTES


# ---------------------------------------------------------------------------------------------


def _check(spec: ModelSpec, options: ServingOptions) -> None:
    if not spec.has_shape or not spec.breakdown:
        raise InputError(f"{spec.name}: a serving estimate needs the model's config.json or Hub ID, not a bare count")
    if options.tp < 1 or options.pp < 1:
        raise InputError("tensor and pipeline parallel sizes must be 1 or more: use 1 and 1 for one GPU")
    heads = spec.num_attention_heads or 1
    if heads % options.tp:
        raise InputError(f"tensor parallelism {options.tp} does not divide the {heads} attention heads: pick a divisor of {heads}")


def layout_fields(options: ServingOptions, dtype_bytes: int, fmt: WeightFormat) -> dict:
    """The head of every serving object: engine, GPU, parallel layout and formats."""
    return {
        "engine": options.engine,
        "gpu": options.gpu.name,
        "gpu_memory_bytes": options.gpu.memory_bytes,
        "tp": options.tp,
        "pp": options.pp,
        "gpus": options.tp * options.pp,
        "dtype_bits": dtype_bytes * 8,
        "weights_format": fmt.name,
        "kv_cache_dtype": options.kv_cache_dtype,
    }


def estimate_generic(spec: ModelSpec, options: ServingOptions) -> dict:
    tp, pp = options.tp, options.pp
    dtype_bytes = activation_dtype_bytes(spec, options.dtype)
    kv_bytes = kv_dtype_bytes(options.kv_cache_dtype, dtype_bytes)
    fmt = weight_format(spec, options.quantization, dtype_bytes)
    context = options.context or spec.max_position_embeddings or 4096
    batch = options.batch
    if batch < 1 or context < 1:
        raise InputError("context length and concurrent sequences must be 1 or more")
    gpu_bytes = options.gpu.memory_bytes

    stages = []
    for stage in range(pp):
        weights = weights_terms(spec, fmt, dtype_bytes, tp, pp, stage)
        weights_total = sum(weights.values())
        kv = kv_cache_bytes(spec, context, batch, tp, kv_bytes, pp, stage)
        # NOTE: engines prefill in chunks (vLLM's default 8192 tokens on big GPUs), so the forward
        # pass never holds more than one chunk of activations, however long the context.
        chunk = min(context * batch, options.max_num_batched_tokens or 8192)
        activations = forward_activation_bytes(spec, chunk, dtype_bytes, tp)
        if stage == pp - 1:
            activations = max(activations, logits_bytes(spec, batch) + chunk * (spec.hidden_size or 0) * dtype_bytes)
        overhead = runtime_overhead_bytes(tp)
        total = weights_total + kv + activations + overhead
        per_token = kv_cache_bytes_per_token(spec, tp, kv_bytes, pp, stage)
        free = gpu_bytes - (weights_total + activations + overhead)
        stages.append(
            {
                "stage": stage,
                "weights_bytes": weights_total,
                "weights_breakdown_bytes": weights,
                "kv_cache_bytes": kv,
                "kv_cache_bytes_per_token": per_token,
                "activation_bytes": activations,
                "overhead_bytes": overhead,
                "total_bytes": total,
                "kv_tokens_that_fit": max(0, free // per_token) if per_token else 0,
            }
        )
    worst = max(stages, key=lambda s: s["total_bytes"])
    first = stages[0]
    tokens_fit = min(s["kv_tokens_that_fit"] for s in stages)
    # NOTE: a sequence needs `context` tokens of KV in full-attention layers; sliding-window layers
    # need less, which kv_cache_bytes already counts, so scale by the real per-sequence need.
    per_sequence = max(s["kv_cache_bytes"] / batch / s["kv_cache_bytes_per_token"] for s in stages if s["kv_cache_bytes_per_token"])
    concurrency = int(tokens_fit // per_sequence) if per_sequence else 0
    return {
        **layout_fields(options, dtype_bytes, fmt),
        "context": context,
        "batch": batch,
        "weights_bytes_per_gpu": first["weights_bytes"],
        "weights_breakdown_bytes": first["weights_breakdown_bytes"],
        "activation_bytes": first["activation_bytes"],
        "non_torch_bytes": first["overhead_bytes"],
        "kv_cache_bytes_per_gpu": first["kv_cache_bytes"],
        "kv_cache_bytes_per_token": first["kv_cache_bytes_per_token"],
        "kv_cache_tokens": tokens_fit,
        "max_concurrency": concurrency,
        "total_bytes_per_gpu": worst["total_bytes"],
        "fits": all(s["total_bytes"] <= gpu_bytes for s in stages),
        "stages": stages if pp > 1 else None,
        "notes": [
            "weights: linear layers in the format's bytes (scales included), the rest in the serving dtype; "
            "vocab padded to 64 and split by tp; first pipeline stage shown",
            "KV cache: layers x 2 x KV heads per rank x head_dim x dtype per token (MLA: one latent per layer); "
            "sliding-window layers hold at most the window",
            "activations: one prefill chunk (min(context x batch, 8192) tokens) through the largest layer, "
            "or the last stage's logits, whichever is larger",
            "overhead: CUDA context 0.51 GiB, plus ~2 GiB NCCL/all-reduce buffers when tp > 1 (vLLM 0.19 on H100)",
            "kv_cache_tokens / max_concurrency: what the GPU memory left after weights, activations and "
            "overhead holds, at this context",
        ],
    }


def estimate_serving(spec: ModelSpec, options: ServingOptions) -> dict:
    """The JSON `serving` object: every memory term per GPU, in bytes, and whether it fits."""
    _check(spec, options)
    if options.engine is None:
        return estimate_generic(spec, options)
    if options.engine.lower() == "vllm":
        from .engines.vllm import estimate_vllm

        return estimate_vllm(spec, options)
    raise InputError(f"unknown engine {options.engine!r}: use vllm, or none for the generic estimate")
