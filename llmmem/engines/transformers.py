"""GPU memory of running a model in transformers: one prefill forward, or `generate()` with the
default dynamic cache.

What this reproduces is PyTorch's own accounting (`torch.cuda.max_memory_allocated`) for
`model(input_ids, use_cache=True)` under `torch.inference_mode()`, with the model built in a 16-bit
dtype: the weights as allocated, plus the forward's peak over what was allocated before it. The
forward's peak is the largest of a few moments, each counted from the tensors Python still references
then (inference mode frees every temporary as soon as its last reference goes):

  mlp       the last decoder layer's MLP: the KV cache of every layer, the embeddings output that
            `XModel.forward` keeps in `inputs_embeds`, the layer's input (still referenced by the loop
            in `XModel.forward`), the residual sum and the normed MLP input (4 x B x T x hidden), plus
            the MLP's own intermediates: gated `down(act(gate(x)) * up(x))` holds act, up and their
            product (3 x B x T x I); a fused gate_up (Phi-3) holds gate_up, act and product (4 x);
            a plain MLP holds fc1 and its activation (2 x), or 4 x for "gelu_new", whose Python
            formula (activations.NewGELUActivation) keeps two temporaries next to input and 0.5 * input.
  experts   MoE layers (integrations/moe.py grouped_mm_experts_forward): the k routed copies of each
            token (`hidden_states[perm // top_k]`, B x T x k x hidden), their gate_up output (2 x I),
            act(gate) and the product (I each).
  attention only where scores are materialised: eager attention (gpt-oss: scores, their masked copy,
            the copy with the sink column and its max-subtracted copy: 3 x B x heads x T x (T+1) at
            once) and SDPA's math kernel (Falcon's multi-query layers call SDPA with 1 KV head and
            71 query heads and no enable_gqa, which only the math kernel accepts): on CUDA it upcasts
            to fp32 (torch.backends.cuda.allow_fp16_bf16_reduction_math_sdp is False by default), so
            the fp32 scores, their softmax and a boolean mask of the same shape.
  logits    `lm_head` over every prompt position (`logits_to_keep=0` by default): B x T x vocab in the
            model dtype next to the final hidden state and the whole KV cache; twice when the model
            applies final_logit_softcapping (Gemma 2: `logits / cap`, `tanh`, `* cap`, each a new tensor
            made while the previous one is alive).

The KV cache is what `DynamicCache` holds: every layer keeps K and V for every prompt token. A
sliding-window layer (DynamicSlidingWindowLayer.update) keeps a *view* of its last window - 1
tokens, so right after the prefill it still holds the storage of the full prompt; the view's own size
(what `cache.layers[i].keys.nbytes` reports) is given separately. DeepSeek-V2/V3 (MLA) cache the
compressed latent: kv_lora_rank + qk_rope_head_dim values per token and layer.

Fitted constants: none. Measured constants: the cuBLAS workspace (32 MiB, allocated by the first
matmul of a process through the caching allocator) and the CUDA context (nvidia-smi only).
Versions modelled: transformers 5.17 with torch 2.11 (the fixture tests/fixtures/transformers_h200).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import InputError
from ..serving import CUDA_CONTEXT_BYTES, ServingEstimate, activation_dtype_bytes
from ..spec import ATTENTION_KINDS, LINEAR_ATTENTION, MAMBA, NO_CACHE, SHORT_CONV, SLIDING_ATTENTION, ModelSpec
from .search import largest_fitting

MiB = 2**20
GiB = 2**30

# NOTE: torch's CublasHandlePool gives each handle a 32 MiB workspace on Hopper (sm90) and newer,
# allocated through the caching allocator by the first cuBLAS call of the process: it shows in
# max_memory_allocated of the first forward only (fixture README; rows gpt2 1024 and
# Llama-3.1-8B 8192x2, the first of their processes, are 32 MiB above the rest of the model).
CUBLAS_WORKSPACE_BYTES = 32 * MiB
# NOTE: memory nvidia-smi shows beyond PyTorch's pool is serving.CUDA_CONTEXT_BYTES, the CUDA context and
# kernels (about 0.5 GiB on an H100/H200 with torch 2.x; vLLM's measured non-torch figure, 0.51 GiB).

# The caching allocator's granularity (c10/cuda/CUDACachingAllocator.cpp: kMinBlockSize, kRoundLarge).
BLOCK_ROUND = 512
LARGE_SEGMENT_ROUND = 2 * MiB


@dataclass(frozen=True)
class Family:
    """How a transformers model_type runs its forward, as far as memory goes."""

    mlp: str = "gated"  # gated | fused_gated (one gate_up linear) | plain
    plain_activation_tensors: int = 1  # I-sized tensors a plain MLP's activation makes (gelu_new: 3)
    attention: str = "sdpa"  # sdpa | eager_sinks | sdpa_math_mqa
    logit_copies: int = 1  # 2 with final_logit_softcapping
    rotary: bool = True  # rotary embeddings: cos and sin for the prompt, and inv_freq buffers
    extra_buffers: int = 0  # other small buffers (Gemma's embedding normalizer)


FAMILIES: dict[str, Family] = {
    "gpt2": Family(mlp="plain", plain_activation_tensors=3, rotary=False),
    "opt": Family(mlp="plain", rotary=False),
    "phi": Family(mlp="plain", plain_activation_tensors=3),
    "gptj": Family(mlp="plain", plain_activation_tensors=3),
    "gpt_neox": Family(mlp="plain"),
    "starcoder2": Family(mlp="plain"),
    "phi3": Family(mlp="fused_gated"),
    "falcon": Family(mlp="plain", attention="sdpa_math_mqa"),
    "gemma": Family(extra_buffers=1),
    "gemma2": Family(extra_buffers=1, logit_copies=2),
    "gemma3_text": Family(extra_buffers=1),
    "gpt_oss": Family(attention="eager_sinks"),
}
DEFAULT_FAMILY = Family()


def family_of(spec: ModelSpec) -> Family:
    return FAMILIES.get(spec.model_type or "", DEFAULT_FAMILY)


@dataclass(frozen=True)
class TransformersEstimate:
    """PyTorch's allocated peak for one transformers run, term by term (bytes)."""

    model: str
    batch: int
    prompt_tokens: int
    new_tokens: int
    dtype_bytes: int
    attn_implementation: str
    weights_bytes: int  # parameters + buffers, as allocated
    parameter_bytes: int
    buffer_bytes: int
    kv_cache_bytes: int  # storage the cache holds at the peak
    kv_cache_view_bytes: int  # what the cache's tensors report (sliding layers: window - 1 tokens)
    forward_terms: dict[str, int]  # each moment's transient on top of the KV cache
    peak_moment: str
    forward_peak_bytes: int  # max_memory_allocated over the run minus allocated before it
    cublas_workspace_bytes: int
    peak_allocated_bytes: int  # weights + forward peak: torch.cuda.max_memory_allocated
    reserved_bytes: int  # caching allocator's pool at the peak (a lower bound)
    cuda_context_bytes: int
    nvidia_smi_bytes: int  # reserve + CUDA context: what nvidia-smi shows at least
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data


# ---------------------------------------------------------------------------------------------
# allocator


def block_bytes(size: int) -> int:
    """Bytes the caching allocator counts for one tensor of `size` bytes: rounded up to 512 B; a
    large tensor in a fresh segment of whole 2 MiB takes the segment whole when the rest would be
    1 MiB or less (the allocator does not split off such a remainder)."""
    rounded = -(-size // BLOCK_ROUND) * BLOCK_ROUND
    if size >= 10 * MiB:
        segment = -(-size // LARGE_SEGMENT_ROUND) * LARGE_SEGMENT_ROUND
        if segment - rounded <= MiB:
            return segment
    return rounded


# ---------------------------------------------------------------------------------------------
# terms


def buffer_bytes(spec: ModelSpec) -> int:
    """Non-parameter buffers transformers allocates: rotary `inv_freq` and `original_inv_freq`
    (fp32, head_dim / 2 each; Gemma 3 has a second rotary embedding for its local layers) and
    Gemma's embedding normalizer, each its own allocation."""
    fam = family_of(spec)
    total = 0
    if fam.rotary:
        rotaries = 2 if spec.model_type == "gemma3_text" else 1
        rope_dim = spec.qk_rope_head_dim or spec.attention_head_dim
        total += rotaries * 2 * block_bytes(rope_dim // 2 * 4)
    total += fam.extra_buffers * BLOCK_ROUND
    return total


def parameter_bytes(spec: ModelSpec, dtype_bytes: int) -> int:
    """Every parameter in the model dtype; the embedding and an untied LM head are single large
    tensors, rounded as the allocator rounds them."""
    embedding = spec.breakdown.get("embedding", 0)
    lm_head = spec.breakdown.get("lm_head", 0)
    rest = spec.parameters - embedding - lm_head
    total = rest * dtype_bytes
    for count in (embedding, lm_head):
        if count:
            total += block_bytes(count * dtype_bytes)
    return total


def kv_token_layer_bytes(spec: ModelSpec, dtype_bytes: int) -> int:
    """K and V of one token in one layer, as transformers caches them."""
    if spec.is_mla:
        return (spec.kv_lora_rank + (spec.qk_rope_head_dim or 0)) * dtype_bytes
    kv_heads = spec.num_kv_heads or spec.num_attention_heads
    return 2 * kv_heads * spec.attention_head_dim * dtype_bytes


def _sliding(spec: ModelSpec) -> list[bool]:
    layers = spec.num_layers
    if not spec.sliding_window or len(spec.layer_types) != layers:
        return [False] * layers
    return [kind == SLIDING_ATTENTION for kind in spec.layer_types]


def kv_cache_after_prefill(spec: ModelSpec, batch: int, tokens: int, dtype_bytes: int) -> tuple[int, int]:
    """(storage held, size of the cache's views) right after a prefill of `tokens`: sliding layers keep
    a view of their last window - 1 tokens over the full prompt's storage."""
    per = kv_token_layer_bytes(spec, dtype_bytes) * batch
    held = view = 0
    for sliding in _sliding(spec):
        held += tokens * per
        view += (min(tokens, spec.sliding_window - 1) if sliding else tokens) * per
    return held, view


def kv_cache_during_decode(spec: ModelSpec, batch: int, tokens: int, dtype_bytes: int) -> int:
    """Storage after a decode step that brings the sequence to `tokens`: `torch.cat` of the
    window - 1 kept tokens and the new one makes a window-sized tensor in sliding layers."""
    per = kv_token_layer_bytes(spec, dtype_bytes) * batch
    return sum((min(tokens, spec.sliding_window) if s else tokens) * per for s in _sliding(spec))


def mlp_intermediate_bytes(spec: ModelSpec, tokens: int, dtype_bytes: int) -> int:
    """The dense MLP's intermediates alive at once (see the module docstring)."""
    fam = family_of(spec)
    inner = spec.intermediate_size or 0
    if spec.is_moe and spec.num_dense_layers is None and spec.model_type != "deepseek_v2":
        inner = 0  # every layer is MoE: no dense MLP
    width = {"gated": 3, "fused_gated": 4}.get(fam.mlp, 1 + fam.plain_activation_tensors)
    return tokens * width * inner * dtype_bytes


def experts_bytes(spec: ModelSpec, tokens: int, dtype_bytes: int) -> int:
    """grouped_mm experts: k routed copies of each token's hidden state, their gate_up output,
    act(gate) and the gated product; shared experts run afterwards on the whole batch."""
    if not spec.is_moe:
        return 0
    inner = spec.moe_intermediate_size or spec.intermediate_size or 0
    routed = tokens * (spec.experts_per_token or 1)
    return routed * (spec.hidden_size + 4 * inner) * dtype_bytes


def attention_scores_bytes(spec: ModelSpec, batch: int, tokens: int, dtype_bytes: int, implementation: str) -> int:
    """Score-sized tensors alive at once where attention materialises them; 0 for SDPA's fused kernels."""
    heads = spec.num_attention_heads
    width = batch * heads * tokens
    hd = spec.attention_head_dim
    if implementation == "eager_sinks":
        # scores, scores + mask, cat([scores, sinks]) and its max-subtracted copy: 3 alive at most;
        # plus query and the repeat_kv copies of K and V, and the materialised causal masks.
        masks = 2 if any(_sliding(spec)) else 1
        return 3 * width * (tokens + 1) * dtype_bytes + 3 * width * hd * dtype_bytes + masks * batch * tokens * tokens * dtype_bytes
    if implementation == "sdpa_math_mqa":
        # fp32 scores, their softmax, a boolean mask of the scores' shape; fp32 query and its scaled copy
        return width * tokens * (4 + 4 + 1) + 2 * width * hd * 4
    if implementation == "eager":
        # scores, their masked copy, softmax in fp32 and its cast back
        return width * tokens * (dtype_bytes * 3 + 4)
    return 0


def logits_bytes(spec: ModelSpec, batch: int, positions: int, dtype_bytes: int) -> int:
    return batch * positions * spec.vocab_size * dtype_bytes * family_of(spec).logit_copies


def rotary_bytes(spec: ModelSpec, tokens: int, dtype_bytes: int) -> int:
    """cos and sin for the prompt positions (shared by the batch), in the model dtype."""
    if not family_of(spec).rotary:
        return 0
    rope_dim = spec.qk_rope_head_dim or spec.attention_head_dim
    sets = 2 if spec.model_type == "gemma3_text" else 1  # NOTE: Gemma 3: global and local rotary
    return sets * 2 * tokens * rope_dim * dtype_bytes


def sliding_mask_materialised(spec: ModelSpec, tokens: int) -> bool:
    """SDPA gets an explicit mask for sliding layers once the prompt reaches the window
    (masking_utils.sdpa_mask skips it, using is_causal, only while it is shorter)."""
    return bool(spec.sliding_window) and any(_sliding(spec)) and tokens >= spec.sliding_window


def sliding_mask_bytes(spec: ModelSpec, tokens: int) -> int:
    """The boolean sliding-window mask, T x T, expanded (not copied) over the batch."""
    return tokens * tokens if sliding_mask_materialised(spec, tokens) else 0


# ---------------------------------------------------------------------------------------------


# What a layer kind other than attention is, in a refusal.
_UNMODELLED_WORDS = {
    MAMBA: "Mamba", LINEAR_ATTENTION: "linear-attention (gated delta-net)", SHORT_CONV: "short-conv",
    NO_CACHE: "encoder or MLP-only",
}  # fmt: skip


def unmodelled_layers(spec: ModelSpec) -> str | None:
    """What these estimates do not model in `spec` (they follow decoders whose every layer is attention:
    SSM, hybrid and encoder layers keep other tensors), in words; None when nothing."""
    if spec.model_type == "t5":
        return "encoder-decoder"
    kinds = sorted(set(spec.layer_types) - ATTENTION_KINDS)
    if kinds:
        return ", ".join(_UNMODELLED_WORDS.get(kind, kind) for kind in kinds)
    return None if spec.num_attention_heads else "attention-free"


def _check(spec: ModelSpec, batch: int, tokens: int, new_tokens: int) -> None:
    if not spec.has_shape or not spec.breakdown or not spec.vocab_size:
        raise InputError(f"{spec.name}: the transformers estimate needs the model's config.json or Hub ID, not a bare count")
    check_modelled(spec)
    if batch < 1 or tokens < 1 or new_tokens < 0:
        raise InputError("batch and prompt tokens must be 1 or more, and new tokens 0 or more")


def check_modelled(spec: ModelSpec) -> None:
    """Refuse, in one line, a model whose layers the transformers engine does not model."""
    unmodelled = unmodelled_layers(spec)
    if unmodelled:
        raise InputError(f"{spec.name} has {unmodelled} layers: the transformers engine models attention decoders only; "
                         "use --engine vllm or generic")


def estimate_transformers(
    spec: ModelSpec,
    *,
    batch: int = 1,
    tokens: int = 2048,
    new_tokens: int = 0,
    dtype: str | None = None,
    attn_implementation: str | None = None,
    first_forward: bool = True,
) -> TransformersEstimate:
    """Peak memory of transformers running `spec`: one prefill of batch x tokens (new_tokens = 0,
    `model(input_ids, use_cache=True)`), or `generate(max_new_tokens=new_tokens)` with greedy decoding.
    first_forward: the process has not run a matmul yet, so the cuBLAS workspace is part of the peak."""
    _check(spec, batch, tokens, new_tokens)
    d = activation_dtype_bytes(spec, dtype)
    fam = family_of(spec)
    implementation = attn_implementation or fam.attention
    # NOTE: only Falcon's multi-query layout (one KV head, old decoder architecture) reaches SDPA with
    # unequal head counts; new_decoder_architecture broadcasts K and V to every head first.
    if implementation == "sdpa_math_mqa" and (spec.num_kv_heads or spec.num_attention_heads) != 1:
        implementation = "sdpa"
    n = batch * tokens
    hidden = n * spec.hidden_size * d

    kv_held, kv_view = kv_cache_after_prefill(spec, batch, tokens, d)
    rope = rotary_bytes(spec, tokens, d)
    # NOTE: generate() asks the prefill for the last position's logits only (logits_to_keep=1) and
    # keeps an fp32 copy of them (next_token_logits).
    logit_positions = 1 if new_tokens else tokens
    masks = sliding_mask_bytes(spec, tokens) if implementation == "sdpa" else 0
    held_in_layer = 4 * hidden + rope + masks
    terms = {
        "mlp": held_in_layer + mlp_intermediate_bytes(spec, n, d),
        "experts": held_in_layer + experts_bytes(spec, n, d) if spec.is_moe else 0,
        "attention": held_in_layer + attention_scores_bytes(spec, batch, tokens, d, implementation),
        "logits": hidden + logits_bytes(spec, batch, logit_positions, d),
    }
    moment = max(terms, key=lambda k: terms[k])
    forward_peak = kv_held + terms[moment]

    kv_at_peak = kv_held
    if new_tokens:
        # NOTE: each decode step's DynamicLayer.update does torch.cat([old, new]): one layer's cache
        # exists twice for a moment; the fp32 copy of the last logits stays alive.
        total = tokens + new_tokens
        per_layer = kv_token_layer_bytes(spec, d) * batch * total
        kv_decode = kv_cache_during_decode(spec, batch, total, d)
        decode = kv_decode + per_layer + batch * spec.vocab_size * 4
        terms["decode"] = decode
        if decode > forward_peak:
            moment, forward_peak, kv_at_peak = "decode", decode, kv_decode
    workspace = CUBLAS_WORKSPACE_BYTES if first_forward else 0
    forward_peak += workspace

    params = parameter_bytes(spec, d)
    buffers = buffer_bytes(spec)
    weights = params + buffers
    peak = weights + forward_peak
    reserved = -(-peak // LARGE_SEGMENT_ROUND) * LARGE_SEGMENT_ROUND
    return TransformersEstimate(
        model=spec.name,
        batch=batch,
        prompt_tokens=tokens,
        new_tokens=new_tokens,
        dtype_bytes=d,
        attn_implementation="eager" if implementation == "eager_sinks" else "sdpa",
        weights_bytes=weights,
        parameter_bytes=params,
        buffer_bytes=buffers,
        kv_cache_bytes=kv_at_peak,
        kv_cache_view_bytes=kv_view,
        forward_terms=terms,
        peak_moment=moment,
        forward_peak_bytes=forward_peak,
        cublas_workspace_bytes=workspace,
        peak_allocated_bytes=peak,
        reserved_bytes=reserved,
        cuda_context_bytes=CUDA_CONTEXT_BYTES,
        nvidia_smi_bytes=reserved + CUDA_CONTEXT_BYTES,
        notes=(
            "peak_allocated_bytes: torch.cuda.max_memory_allocated (weights as allocated + the forward's peak); "
            "nvidia_smi_bytes adds the CUDA context to the allocator's pool (a lower bound: the pool also keeps freed blocks)",
            "forward_terms: each moment's tensors on top of the KV cache; the largest is the peak",
            "KV cache: sliding-window layers hold the full prompt's storage until the first decode step",
        ),
    )


# ---------------------------------------------------------------------------------------------
# the engine table's entry: (spec, ServingOptions) -> ServingEstimate


@dataclass(frozen=True)
class TransformersServingEstimate(ServingEstimate):
    context: int
    batch: int
    new_tokens: int
    attn_implementation: str
    peak_allocated_bytes: int  # torch.cuda.max_memory_allocated: weights + the forward's peak
    forward_peak_bytes: int
    forward_terms: dict
    peak_moment: str
    kv_cache_view_bytes: int
    cublas_workspace_bytes: int
    parameter_bytes: int
    buffer_bytes: int
    reserved_bytes: int
    cuda_context_bytes: int
    nvidia_smi_bytes: int
    # NOTE: the one term total_bytes_per_gpu holds beyond weights + activations + KV cache + CUDA context:
    # the caching allocator reserves whole 2 MiB segments, so its pool (reserved_bytes) rounds up the peak.
    allocator_rounding_bytes: int
    max_context: int


# the serving result's fields that it takes over from the run's TransformersEstimate unchanged
_FROM_RUN = (
    "batch", "new_tokens", "attn_implementation", "peak_allocated_bytes", "forward_peak_bytes", "peak_moment",
    "kv_cache_view_bytes", "cublas_workspace_bytes", "parameter_bytes", "buffer_bytes", "reserved_bytes",
    "cuda_context_bytes", "nvidia_smi_bytes",
)


def estimate_transformers_engine(spec: ModelSpec, options) -> "TransformersServingEstimate":
    """ENGINES["transformers"]: one GPU running `model(input_ids)` (new_tokens = 0) or `generate()`."""
    if options.tp != 1 or options.pp != 1:
        raise InputError("the transformers engine sizes one GPU (a plain `model(...)` or `generate()`): use tp 1 and pp 1")
    dtype = options.dtype
    if options.quantization == "fp32":
        dtype = "float32"
    elif options.quantization not in (None, "fp16"):
        raise InputError("the transformers engine sizes 16- or 32-bit weights: use --weights auto, fp16 or fp32 (or --engine vllm)")
    if (options.kv_cache_dtype or "auto").lower() != "auto":
        raise InputError("transformers' dynamic cache holds K and V in the model dtype: use --kv-cache-dtype auto")
    context = options.context or spec.max_position_embeddings or 4096
    est = estimate_transformers(spec, batch=options.batch, tokens=context, new_tokens=options.new_tokens, dtype=dtype)
    gpu_bytes = options.gpu.memory_bytes
    per_token = kv_token_layer_bytes(spec, est.dtype_bytes) * spec.num_layers
    activations = est.forward_peak_bytes - est.kv_cache_bytes
    # NOTE: a transformers batch grows every activation with it (logits above all), so what fits is
    # counted in whole sequences of this length, not in KV tokens left over.
    sequences = _max_batch(spec, context, options.new_tokens, dtype, gpu_bytes)
    tokens_fit = sequences * (context + options.new_tokens)
    total = est.nvidia_smi_bytes
    breakdown = {key: count * est.dtype_bytes for key, count in spec.breakdown.items() if count}
    breakdown["buffers"] = est.buffer_bytes
    return TransformersServingEstimate(
        engine="transformers",
        gpu=options.gpu.name,
        gpu_memory_bytes=gpu_bytes,
        tp=1,
        pp=1,
        gpus=1,
        dtype_bits=est.dtype_bytes * 8,
        weights_format="fp32" if est.dtype_bytes == 4 else "fp16",
        kv_cache_dtype="auto",
        weights_bytes_per_gpu=est.weights_bytes,
        weights_breakdown_bytes=breakdown,
        activation_bytes=activations,
        non_torch_bytes=est.cuda_context_bytes,
        kv_cache_bytes_per_gpu=est.kv_cache_bytes,
        kv_cache_bytes_per_token=per_token,
        kv_cache_tokens=tokens_fit,
        max_concurrency=sequences,
        total_bytes_per_gpu=total,
        fits=total <= gpu_bytes,
        stages=None,
        notes=(*est.notes, "total: weights + activations + KV cache + CUDA context + the allocator's rounding of its "
               "pool to whole 2 MiB segments (allocator_rounding_bytes)"),
        context=context,
        forward_terms=dict(est.forward_terms),
        allocator_rounding_bytes=est.reserved_bytes - est.peak_allocated_bytes,
        max_context=_max_context(spec, options, dtype, gpu_bytes),
        **{name: getattr(est, name) for name in _FROM_RUN},
    )


def _max_batch(spec: ModelSpec, context: int, new_tokens: int, dtype: str | None, gpu_bytes: int, cap: int = 4096) -> int:
    """Most sequences of `context` tokens one run fits (0: not even one)."""

    def fits(batch: int) -> bool:
        est = estimate_transformers(spec, batch=batch, tokens=context, new_tokens=new_tokens, dtype=dtype)
        return est.nvidia_smi_bytes <= gpu_bytes

    return largest_fitting(fits, cap)


def _max_context(spec: ModelSpec, options, dtype: str | None, gpu_bytes: int) -> int:
    """Longest prompt (capped at the model's maximum) whose run fits the GPU (0: none)."""

    def fits(tokens: int) -> bool:
        est = estimate_transformers(spec, batch=options.batch, tokens=tokens, new_tokens=options.new_tokens, dtype=dtype)
        return est.nvidia_smi_bytes <= gpu_bytes

    return largest_fitting(fits, max(spec.max_position_embeddings or 4096, options.context or 0))
