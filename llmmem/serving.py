"""Engine-neutral serving terms: weights per GPU in a checkpoint's real format, KV cache, activations,
overhead, tensor/pipeline splits, and the options and result types every engine shares.

Engines (llmmem/engines/: generic, vllm, ...) build on these; this module imports no engine. The one
call is `llmmem.engines.estimate_serving(spec, options)`, which dispatches on `options.engine`.
Every term is a small pure function, in bytes (ints).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .errors import InputError
from .gpus import GPU
from .quantization import FORMATS, WeightFormat, format_from_quantization_config, get_format
from .results import Result
from . import kv_cache
from .kv_cache import CacheLayout, cache_layout
from .kv_cache import kv_heads_per_rank
from .spec import ATTENTION_KINDS, FFN_DENSE, FFN_MOE, PART_KEYS, QUANTIZABLE_KEYS, STATE_KINDS, ModelSpec

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

DTYPE_BYTES = kv_cache.STATE_DTYPE_BYTES  # the same names and sizes for the serving dtype
KV_DTYPE_BYTES = {"fp16": 2, "bf16": 2, "float16": 2, "bfloat16": 2, "fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1}


@dataclass(frozen=True)
class ServingOptions:
    gpu: GPU
    engine: str = "generic"  # a name of llmmem.engines.ENGINES: generic, vllm, ...
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
    # tokens generated per sequence beyond the prompt (engines that size a generate() call use it)
    new_tokens: int = 0
    # vLLM's VLLM_ALLOW_LONG_MAX_MODEL_LEN: a length beyond the model's position table is allowed
    allow_long_context: bool = False


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


def padded_vocab(vocab_size: int, padding: int = VOCAB_PADDING) -> int:
    return -(-vocab_size // padding) * padding


# ---------------------------------------------------------------------------------------------
# weights


# Parameter groups that live only in layers of some kinds (hybrids): their pipeline share follows those layers.
_KIND_KEYS = {
    "attention_qo": ATTENTION_KINDS, "attention_kv": ATTENTION_KINDS, "attention_replicated": ATTENTION_KINDS,
    "ssm_proj": STATE_KINDS, "ssm_other": STATE_KINDS,
}
# Vision-tower / projector sub-groups (spec.parts) vLLM shards by tensor parallelism (QKVParallelLinear,
# Column/RowParallelLinear in its SigLIP, Qwen-VL, Pixtral, Llama 4 towers and mergers; the default
# --mm-encoder-tp-mode "weights"); patch / position embeddings and norms stay whole on every rank.
_SPLIT_PART_KEYS = frozenset({"attention", "mlp", "adapter", "merger", "linear"})


# Feed-forward groups and the layers that hold them (spec.ffn_types).
_FFN_KEYS = {"mlp": FFN_DENSE, "experts": FFN_MOE, "shared_experts": FFN_MOE, "router": FFN_MOE}


def _layer_fraction(spec: ModelSpec, key: str, start: int, end: int) -> tuple[int, int]:
    """Share (numerator, denominator) of a per-layer parameter group held by decoder layers [start, end)."""
    layers = spec.num_layers or 1
    if key in _KIND_KEYS and spec.is_hybrid:
        kinds = kv_cache.layer_kinds(spec)
        here = sum(kind in _KIND_KEYS[key] for kind in kinds[start:end])
        return here, max(1, sum(kind in _KIND_KEYS[key] for kind in kinds))
    if key in _FFN_KEYS and spec.ffn_types:
        # NOTE: dense and MoE feed-forwards interleave in Jamba, Nemotron-H and Llama 4 Maverick: each group
        # follows the layers that have it (spec.ffn_types), not "the dense layers come first".
        total = sum(ffn == _FFN_KEYS[key] for ffn in spec.ffn_types)
        if total:
            return sum(ffn == _FFN_KEYS[key] for ffn in spec.ffn_types[start:end]), total
    dense = spec.num_dense_layers or 0
    if spec.is_moe and dense and key in ("mlp", "experts", "shared_experts", "router"):
        dense_here = max(0, min(end, dense) - start)
        if key == "mlp":
            return dense_here, dense
        return (end - start) - dense_here, layers - dense
    return end - start, layers


def _tp_fraction(spec: ModelSpec, key: str, tp: int) -> tuple[int, int]:
    """Share (numerator, denominator) of a parameter group one tensor-parallel rank holds (vLLM linear.py /
    vocab_parallel_embedding.py)."""
    if key in ("attention_qo", "mlp", "experts", "shared_experts", "embedding", "lm_head", "ssm_proj", "ssm_other"):
        return 1, tp  # NOTE: Mamba / gated delta-net projections, conv1d, A, D and dt_bias are sharded too
    if key in PART_KEYS and spec.parts.get(key):
        sub = spec.parts[key]
        split = sum(n for name, n in sub.items() if name in _SPLIT_PART_KEYS)
        total = sum(sub.values())
        return split + (total - split) * tp, total * tp
    if key == "attention_kv":
        kv_heads = spec.num_kv_heads or spec.num_attention_heads or 1
        return kv_heads_per_rank(spec, tp), kv_heads
    return 1, 1  # replicated: MLA down projections, routers, norms, position embeddings, other


def weights_terms(
    spec: ModelSpec, fmt: WeightFormat, dtype_bytes: int, tp: int = 1, pp: int = 1, stage: int = 0
) -> dict[str, int]:
    """Bytes of each parameter group on one GPU of pipeline stage `stage` (0 = first).

    Linear groups (spec.QUANTIZABLE_KEYS) take the format's bytes per parameter, the rest the 16-bit
    (or fp32) serving dtype. Embedding and LM head rows are padded to a multiple of 64 and split by
    vocabulary; the first stage holds the embeddings, the last the final norm and the LM head (a tied
    LM head becomes its own copy there when pp > 1, as vLLM's ParallelLMHead loads it).
    Each group is rounded up to whole bytes once, from exact integer ratios.
    """
    if not spec.breakdown:
        raise InputError(f"{spec.name} has no parameter breakdown: serving estimates need its config.json")
    layers = spec.num_layers or 1
    start, end = stage_layer_range(layers, pp, stage)
    first, last = stage == 0, stage == pp - 1
    vocab_num, vocab_den = (padded_vocab(spec.vocab_size), spec.vocab_size) if spec.vocab_size else (1, 1)
    fmt_bytes = fmt.bytes_per_parameter
    terms: dict[str, int] = {}
    for key, count in spec.breakdown.items():
        if not count:
            continue
        if key in ("embedding", "position_embedding"):
            share = (1, 1) if first else (0, 1)
        elif key in PART_KEYS:
            share = (1, 1)  # NOTE: vLLM builds the vision tower and projector on every pipeline rank
        elif key == "lm_head":
            share = (1, 1) if last else (0, 1)
        elif key == "norms":
            # NOTE: one final norm of hidden_size sits on the last stage; the rest are per layer.
            final = spec.hidden_size or 0
            per_layer = count - final
            terms[key] = (per_layer * (end - start) * dtype_bytes) // layers + (final * dtype_bytes if last else 0)
            continue
        elif key == "other":
            share = (end - start, layers)
        else:
            share = _layer_fraction(spec, key, start, end)
        num, den = share
        if key in ("embedding", "lm_head"):
            num, den = num * vocab_num, den * vocab_den
        tp_num, tp_den = _tp_fraction(spec, key, tp)
        num, den = count * num * tp_num, den * tp_den
        if key in QUANTIZABLE_KEYS and (not fmt.experts_only or key == "experts"):
            num, den = num * fmt_bytes.numerator, den * fmt_bytes.denominator
        else:
            num *= dtype_bytes
        terms[key] = -(-num // den)
    if pp > 1 and last and spec.tie_word_embeddings and "lm_head" not in spec.breakdown:
        embedding = spec.breakdown.get("embedding", 0)
        terms["lm_head"] = embedding * vocab_num * dtype_bytes // (vocab_den * tp)
    return terms


# ---------------------------------------------------------------------------------------------
# KV cache


def stage_cache_layout(
    spec: ModelSpec, tp: int, kv_bytes: int, pp: int = 1, stage: int = 0, *, dtype_bytes: int = 2, kv_cache_dtype: str = "auto"
) -> CacheLayout:
    """What the layers of pipeline stage `stage` keep on one GPU: KV per token (attention layers) and
    fixed state per sequence (Mamba / gated delta-net / short-conv layers): kv_cache.cache_layout."""
    start, end = stage_layer_range(spec.num_layers or 0, pp, stage)
    return cache_layout(
        spec, tp=tp, kv_bytes=kv_bytes, dtype_bytes=dtype_bytes, kv_cache_dtype=kv_cache_dtype, layers=range(start, end)
    )


def kv_cache_bytes_per_token(spec: ModelSpec, tp: int, kv_bytes: int, pp: int = 1, stage: int = 0, kv_cache_dtype: str = "auto") -> int:
    """KV bytes one token of context takes on one GPU of `stage`, every attention layer counted
    (sliding-window / chunked layers hold at most their window: see kv_cache_bytes); layers with a
    fixed state or no cache take none."""
    return stage_cache_layout(spec, tp, kv_bytes, pp, stage, kv_cache_dtype=kv_cache_dtype).kv_bytes_per_token


def kv_cache_bytes(
    spec: ModelSpec, tokens: int, sequences: int, tp: int, kv_bytes: int, pp: int = 1, stage: int = 0,
    *, dtype_bytes: int = 2, kv_cache_dtype: str = "auto",
) -> int:
    """Cache bytes on one GPU for `sequences` sequences of `tokens` tokens each: full-attention
    layers keep every token, sliding-window layers at most the window, chunked layers at most one
    chunk, fixed-state layers their state (conv states in the model dtype `dtype_bytes`)."""
    layout = stage_cache_layout(spec, tp, kv_bytes, pp, stage, dtype_bytes=dtype_bytes, kv_cache_dtype=kv_cache_dtype)
    return layout.bytes_per_sequence(tokens) * sequences


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


def tp_comm_bytes(tp: int) -> int:
    """NCCL and custom all-reduce buffers of tensor parallelism (0 on one GPU)."""
    return TP_COMM_BASE_BYTES + TP_COMM_PER_PEER_BYTES * (tp - 2) if tp > 1 else 0


def runtime_overhead_bytes(tp: int) -> int:
    """Memory outside PyTorch tensors: the CUDA context, plus NCCL/all-reduce buffers when tp > 1
    (figures measured by vLLM 0.19 on an H100: see the constants' comments)."""
    return CUDA_CONTEXT_BYTES + tp_comm_bytes(tp)


# ---------------------------------------------------------------------------------------------
# checks and results every engine shares


def check_layout(spec: ModelSpec, options: ServingOptions) -> None:
    """What every engine refuses: a bare parameter count, a parallel size below 1, a tensor-parallel
    size the heads do not split into (vLLM's ModelConfig.verify_with_parallel_config wording)."""
    if not spec.has_shape or not spec.breakdown:
        raise InputError(f"{spec.name}: a serving estimate needs the model's config.json or Hub ID, not a bare count")
    if options.tp < 1 or options.pp < 1:
        raise InputError("tensor and pipeline parallel sizes must be 1 or more: use 1 and 1 for one GPU")
    message = tp_problem(spec, options.tp)
    if message:
        raise InputError(message)


def tp_problem(spec: ModelSpec, tp: int) -> str | None:
    """vLLM's message when `tp` does not split the heads (or a fixed-state mixer's channels), else None."""
    state = kv_cache.state_tp_problem(spec, tp)
    if state:
        return state
    if not spec.layers_of_kind(*ATTENTION_KINDS) and not spec.num_attention_heads:
        return None  # NOTE: attention-free (Mamba-only): vLLM counts 0 attention heads, which any tp divides
    heads = spec.num_attention_heads or 1
    if heads % tp:
        return (f"tensor parallelism {tp} does not divide the {heads} attention heads (vLLM: Total number of "
                f"attention heads ({heads}) must be divisible by tensor parallel size ({tp}).): pick a divisor of {heads}")
    kv = spec.num_kv_heads or heads
    if not spec.is_mla and kv % tp and tp % kv:
        return (f"tensor parallel size {tp} neither divides the {kv} KV heads nor is a multiple of them: "
                f"pick a divisor of {kv} or a multiple of it that divides {heads}")
    return None


def context_problem(spec: ModelSpec, tokens: int, flag: str = "--max-model-len") -> str | None:
    """The line a context beyond the model's position table gets (vLLM's _get_and_verify_max_len)."""
    limit = spec.max_position_embeddings
    if limit and tokens > limit:
        return (f"{flag.lstrip('-')} {tokens:,} is beyond {spec.name}'s limit of {limit:,} tokens "
                f"(max_position_embeddings): use at most {limit:,}, or add --allow-long-context "
                "(vLLM: VLLM_ALLOW_LONG_MAX_MODEL_LEN=1) if the model really extrapolates")
    return None


def layout_fields(options: ServingOptions, dtype_bytes: int, fmt: WeightFormat) -> dict:
    """The head of every serving result: engine, GPU, parallel layout and formats."""
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


@dataclass(frozen=True)
class ServingEstimate(Result):
    """What every engine reports, per GPU, in bytes; engines add their own fields in a subclass."""

    engine: str
    gpu: str
    gpu_memory_bytes: int
    tp: int
    pp: int
    gpus: int
    dtype_bits: int
    weights_format: str
    kv_cache_dtype: str
    weights_bytes_per_gpu: int
    weights_breakdown_bytes: Mapping[str, int]
    activation_bytes: int
    non_torch_bytes: int
    kv_cache_bytes_per_gpu: int
    kv_cache_bytes_per_token: int
    kv_cache_tokens: int
    max_concurrency: float
    total_bytes_per_gpu: int
    fits: bool
    stages: tuple | None
    notes: tuple[str, ...]
    # What the cache holds besides KV per token (kv_cache.CacheLayout): the fixed conv + SSM /
    # recurrent state one sequence keeps in Mamba-style layers, per GPU (0 for attention-only models),
    # and each layer kind's share (kind, layers, KV bytes per token per layer, window, state bytes).
    state_bytes_per_sequence: int = field(default=0, kw_only=True)
    cache_layers: tuple = field(default=(), kw_only=True)
