"""What vLLM v1 (0.19) prints at start-up, predicted from the model and the serving flags.

vLLM sizes its KV cache in gpu_worker.determine_available_memory():
  requested   = gpu_memory_utilization x total GPU memory
  non_kv      = weights ("Model loading took X GiB")
              + torch peak increase of the profiling run (gpu_model_runner.profile_run: one dummy
                forward of max_num_batched_tokens tokens, then the sampler on max_num_seqs rows)
              + non-torch memory added during profiling (NCCL / custom all-reduce buffers)
  available   = requested - non_kv          ("Available KV cache memory")
then kv_cache_utils.get_kv_cache_config (engines/vllm_kv.py): blocks of 16 tokens (raised for
Mamba-style hybrids so one attention page holds a layer's fixed state), one page per layer,
  num_blocks  = available // (page_size x layers per group), the minimum over all workers
  tokens      = num_blocks // groups x block size  ("GPU KV cache size: N tokens")
  concurrency = num_blocks / blocks one max_model_len request needs, one per state group
                ("Maximum concurrency ...").
The CUDA context that exists before the model loads is not charged (vLLM 0.19 measures the
non-torch increase from its start-up snapshot), so it appears in the output but not in the sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..errors import InputError
from ..serving import (
    CUDA_CONTEXT_BYTES,
    ServingEstimate,
    ServingOptions,
    activation_dtype_bytes,
    context_problem,
    forward_activation_bytes,
    kv_dtype_bytes,
    layout_fields,
    padded_vocab,
    stage_cache_layout,
    stage_layer_range,
    tp_comm_bytes,
    weight_format,
    weights_terms,
)
from ..spec import FFN_MOE, ModelSpec
from .vllm_kv import BLOCK_SIZE, STATE_KIND, VllmKVConfig, kv_cache_config
from .vllm_mm import encoder_cache_bytes, encoder_cache_note
from .vllm_mxfp4 import mxfp4_expert_layout, mxfp4_experts_bytes

GiB = 2**30

# NOTE: vLLM 0.19 arg_utils defaults for `vllm serve` (OPENAI_API_SERVER usage context): GPUs with
# >= 70 GiB (H100, H200, MI300X; not A100) get 8192 batched tokens and 1024 sequences, others
# 2048 and 256. The fixture logs confirm 8192 / 1024 on an H100 ("Defaulting max_num_batched_tokens
# to 8192 ... max_num_seqs to 1024 for OPENAI_API_SERVER usage context").
LARGE_GPU_BYTES = 70 * GiB
DEFAULTS_LARGE_GPU = (8192, 1024)
DEFAULTS_SMALL_GPU = (2048, 256)

# Non-torch memory vLLM 0.19 adds during its profiling run on an H100 (fixture vllm_h100_runs.csv,
# column non_torch_forward_gib): 0.24-0.25 GiB on one GPU (cuBLAS workspaces, kernel modules loaded
# by the first forward), 0.07 GiB on the first stage of a pipeline (tp=1), and the all-reduce
# buffers of serving.TP_COMM_* once tensor parallelism is on.
NON_TORCH_SINGLE_BYTES = int(0.25 * GiB)
NON_TORCH_PIPELINE_BYTES = int(0.07 * GiB)

# Sampler working set per logit (bytes) beyond the model-dtype logits from the LM head: the fp32
# copy the sampler works on and the top-k/top-p buffers of the dummy sampler run (temperature,
# top_p, top_k all set). Measured: the torch peak of the five fixture models whose peak is the
# sampler (vocab 100k-256k: Llama-3.1-8B, Qwen2.5-7B, Qwen3-8B, gemma-7b, gemma-2-9b, phi-4) gives
# 12.7-13.1 bytes per logit once the logits and the retained hidden states are taken off.
SAMPLER_FP32_BYTES_PER_LOGIT = 12.9

# Transient memory of the compiled forward beyond the tensors forward_activation_bytes counts
# (inductor buffers, attention metadata, MoE routing scratch): Llama-3.1-8B pipeline stages
# (1.10 / 1.05 GiB measured vs 0.79 GiB counted) and Mixtral tp=2 (1.21 vs 0.91 GiB) both leave
# ~0.3 GiB.
FORWARD_WORKSPACE_BYTES = int(0.30 * GiB)

# NOTE: vLLM 0.19 runs unquantized and FP8 MoE layers through the modular fused-MoE kernel
# ("Using TRITON backend for Unquantized MoE" in the fixture's DeepSeek-V2-Lite log). Its scratch
# comes from the worker's WorkspaceManager (v1/worker/workspace.py), ONE buffer per worker that
# grows to the largest request and is never freed: profiling leaves it allocated, so it is part
# of the torch peak of the sampler run too. Each request is rounded up to 256 bytes.
WORKSPACE_ALIGN = 256
# NOTE: MLAAttention.determine_chunked_prefill_workspace_size (model_executor/layers/attention/
# mla_attention.py): min(max(8 x max_model_len, 4 x max_num_seqs x block), 64k tokens), at least
# one block per sequence.
MLA_PREFILL_WORKSPACE_CAP = 64 * 1024


def vllm_defaults(gpu_memory_bytes: int, gpu_name: str = "") -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) that `vllm serve` 0.19 picks for this GPU."""
    large = gpu_memory_bytes >= LARGE_GPU_BYTES and "a100" not in gpu_name.lower()
    return DEFAULTS_LARGE_GPU if large else DEFAULTS_SMALL_GPU


def rotary_cache_bytes(spec: ModelSpec, dtype_bytes: int) -> int:
    """vLLM's RotaryEmbedding cos_sin_cache: max_position x rotary_dim in the model dtype, allocated
    at load time and so part of "Model loading took" (rotary_embedding/base.py)."""
    if not spec.max_position_embeddings:
        return 0
    if spec.is_mla:
        rotary_dim = spec.qk_rope_head_dim or 0
    else:
        rotary_dim = spec.attention_head_dim
    if spec.model_type in ("gpt2", "opt", "gpt_neox_japanese") or spec.breakdown.get("position_embedding"):
        return 0  # learned absolute positions: no rotary cache
    return spec.max_position_embeddings * rotary_dim * dtype_bytes


def _aligned(nbytes: int) -> int:
    return -(-nbytes // WORKSPACE_ALIGN) * WORKSPACE_ALIGN


def moe_workspace_bytes(spec: ModelSpec, tokens: int, dtype_bytes: int, tp: int) -> int:
    """The fused-MoE workspace vLLM keeps after a MoE layer ran on `tokens` tokens (0 for dense models).

    FusedMoEKernelModularImpl._allocate_buffers asks the WorkspaceManager for two tensors at once
    (fused_moe/modular_kernel.py), with TritonExperts.workspace_shapes (M tokens, top-k, N = 2 x the
    expert intermediate size per rank, K = hidden):
      workspace13 = max(M x topk x max(N/2, K), M x K)   (cache1/cache3, reused for the output)
      workspace2  = M x topk x max(N, K)                 (gate/up output)
    both in the activation dtype, each rounded up to 256 bytes.
    """
    if not spec.is_moe:
        return 0
    inter = -(-(spec.moe_intermediate_size or spec.intermediate_size or 0) // tp)
    hidden = spec.hidden_size or 0
    top_k = spec.experts_per_token or 1
    workspace13 = max(tokens * top_k * max(inter, hidden), tokens * hidden) * dtype_bytes
    workspace2 = tokens * top_k * max(2 * inter, hidden) * dtype_bytes
    return _aligned(workspace13) + _aligned(workspace2)


def mla_prefill_workspace_tokens(max_model_len: int, max_num_seqs: int) -> int:
    """Tokens of MLA's chunked-prefill context workspace (see MLA_PREFILL_WORKSPACE_CAP)."""
    size = min(max(8 * max_model_len, 4 * max_num_seqs * BLOCK_SIZE), MLA_PREFILL_WORKSPACE_CAP)
    return max(size, max_num_seqs * BLOCK_SIZE)


def _mla_dims(spec: ModelSpec) -> tuple[int, int]:
    """(qk_nope_head_dim, v_head_dim) of an MLA model: the spec's head_dim is nope + rope."""
    rope = spec.qk_rope_head_dim or 0
    nope = (spec.head_dim or 0) - rope
    return nope, spec.v_head_dim or nope


def mla_profile_bytes(spec: ModelSpec, max_model_len: int, max_num_seqs: int, dtype_bytes: int, tp: int) -> int:
    """The tensor MLAAttention.forward_impl allocates in the profiling run (attn_metadata is None) to
    stand for the worst kv_b_proj output of _compute_prefill_context: workspace tokens x heads per
    rank x (qk_nope_head_dim + v_head_dim), in the activation dtype. Freed when the layer returns."""
    if not spec.is_mla:
        return 0
    nope, v = _mla_dims(spec)
    heads = (spec.num_attention_heads or 1) // tp
    return mla_prefill_workspace_tokens(max_model_len, max_num_seqs) * heads * (nope + v) * dtype_bytes


def mla_dequantized_up_proj_bytes(spec: ModelSpec, fmt, dtype_bytes: int, tp: int, layers: int) -> int:
    """W_UK_T / W_UV that MLAAttention.process_weights_after_loading builds from kv_b_proj, counted
    in "Model loading took": a view of kv_b_proj's weight when it is unquantized (no memory), a
    dequantized copy in the activation dtype when it is quantized (FP8 DeepSeek-V3/R1, Kimi-K2:
    get_and_maybe_dequant_weights), kv_b_proj itself being kept for the prefill path. Per layer:
    kv_lora_rank x heads per rank x (qk_nope_head_dim + v_head_dim) elements."""
    if not spec.is_mla or fmt.name in ("fp16", "fp32") or fmt.experts_only:
        return 0
    nope, v = _mla_dims(spec)
    heads = (spec.num_attention_heads or 1) // tp
    return layers * spec.kv_lora_rank * heads * (nope + v) * dtype_bytes


def non_torch_forward_bytes(tp: int, pp: int) -> int:
    """Non-torch memory added by vLLM's profiling run (see the constants' sources)."""
    if tp > 1:
        return tp_comm_bytes(tp)
    return NON_TORCH_PIPELINE_BYTES if pp > 1 else NON_TORCH_SINGLE_BYTES


def sampler_peak_bytes(spec: ModelSpec, tokens: int, num_reqs: int, dtype_bytes: int, tp: int) -> int:
    """Torch peak of _dummy_sampler_run after the dummy forward: the forward's hidden states are still
    alive (tokens x hidden), the LM head gives num_reqs x padded vocab logits in the model dtype
    (gathered whole on every tensor-parallel rank), and the sampler works on fp32 copies."""
    vocab = padded_vocab(spec.vocab_size or 0)
    hidden_states = tokens * (spec.hidden_size or 0) * dtype_bytes
    logits = num_reqs * vocab * (dtype_bytes + SAMPLER_FP32_BYTES_PER_LOGIT)
    return int(hidden_states + logits)


def profile_peak_bytes(
    spec: ModelSpec,
    tokens: int,
    num_reqs: int,
    dtype_bytes: int,
    tp: int,
    last_stage: bool,
    max_model_len: int = 4096,
    max_num_seqs: int = 1024,
) -> dict:
    """Torch peak increase of vLLM's profile_run on one GPU: the larger of the dummy forward and (on the
    last pipeline stage, which holds the LM head) the dummy sampler run.

    The forward peaks in its largest moment: a dense layer (forward_activation_bytes without the
    experts), a MoE layer (the persistent fused-MoE workspace + the layer's input, residual and
    output) or an MLA layer (its profiling kv_b_proj stand-in + input, residual, q and output, with
    the MoE workspace of earlier layers still held). The MoE workspace stays allocated through the
    sampler run, so it adds to the sampler's peak too.
    """
    hidden = spec.hidden_size or 0
    moe_workspace = moe_workspace_bytes(spec, tokens, dtype_bytes, tp)
    moments = [forward_activation_bytes(spec, tokens, dtype_bytes, tp, include_moe=not spec.is_moe)]
    if spec.is_moe:
        moments.append(moe_workspace + tokens * 3 * hidden * dtype_bytes)
    if spec.is_mla:
        heads = (spec.num_attention_heads or 1) // tp
        nope, v = _mla_dims(spec)
        q_width = heads * (nope + (spec.qk_rope_head_dim or 0))
        live = tokens * (2 * hidden + q_width + heads * v) * dtype_bytes
        moments.append(mla_profile_bytes(spec, max_model_len, max_num_seqs, dtype_bytes, tp) + live + moe_workspace)
    forward = max(moments) + FORWARD_WORKSPACE_BYTES
    sampler = sampler_peak_bytes(spec, tokens, num_reqs, dtype_bytes, tp) + moe_workspace if last_stage else 0
    return {
        "forward_bytes": forward,
        "sampler_bytes": sampler,
        "moe_workspace_bytes": moe_workspace,
        "peak_bytes": max(forward, sampler),
    }


@dataclass(frozen=True)
class VllmEstimate(ServingEstimate):
    gpu_memory_utilization: float
    max_num_batched_tokens: int
    max_num_seqs: int
    max_model_len: int
    requested_memory_bytes: int
    cuda_context_bytes: int
    non_kv_bytes: int
    # check_enough_kv_cache_memory: KV one request of max_model_len needs on the tightest worker,
    # and the longest max_model_len the available memory holds (vLLM's binary search; 0: none)
    kv_cache_bytes_needed: int
    estimated_max_model_len: int
    num_blocks: int
    starts: bool
    failure: Mapping[str, str] | None
    # The hybrid allocator (vllm_kv): tokens per attention block (raised for Mamba-style hybrids),
    # one layer's page in every group, the padding added to each fixed-state page, layers per group
    # and groups per kind ("mamba_state" for every fixed-state kind).
    kv_cache_block_size: int
    kv_cache_page_bytes: int
    state_page_padding_bytes: int
    kv_cache_group_size: int
    kv_cache_groups: Mapping[str, int]
    # Embeddings multimodal profiling holds out of the KV budget (0 for text-only models).
    encoder_cache_bytes: int


def format_gib(nbytes: int) -> str:
    """vLLM's utils.mem_utils.format_gib: GiB with two decimals."""
    return f"{nbytes / GiB:.2f}"


def estimate_kv_config(spec: ModelSpec, estimate: VllmEstimate) -> VllmKVConfig:
    """The KV cache configuration behind an estimate (rebuilt from its fields)."""
    dtype_bytes = estimate.dtype_bits // 8
    return kv_cache_config(
        spec, tp=estimate.tp, kv_bytes=kv_dtype_bytes(estimate.kv_cache_dtype, dtype_bytes), dtype_bytes=dtype_bytes,
        kv_cache_dtype=estimate.kv_cache_dtype, max_model_len=estimate.max_model_len,
    )


def moe_layers_in(spec: ModelSpec, start: int, end: int) -> int:
    """MoE layers among decoder layers [start, end): spec.ffn_types when known (dense and MoE may
    interleave), else all but the leading num_dense_layers."""
    if spec.ffn_types:
        return sum(ffn == FFN_MOE for ffn in spec.ffn_types[start:end])
    dense = spec.num_dense_layers or 0
    return max(0, end - max(start, dense))


def _failure(spec, stages, max_model_len, gpu_bytes) -> dict | None:
    """The first start-up check a worker fails, in vLLM's own words (None: vLLM starts)."""
    for s in stages:
        if s["weights_bytes"] + CUDA_CONTEXT_BYTES > gpu_bytes:
            return {
                "check": "model_loading",
                "message": f"CUDA out of memory while loading the model: the weights take {format_gib(s['weights_bytes'])} GiB "
                f"per GPU (stage {s['stage']}) and the GPU has {format_gib(gpu_bytes)} GiB",
            }
    for s in stages:
        if s["available_kv_bytes"] <= 0:
            return {
                "check": "no_available_memory",
                "message": "No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.",
            }
    for s in stages:
        if s["kv_bytes_needed"] > s["available_kv_bytes"]:
            estimated = s["estimated_max_model_len"]
            estimated_msg = f"Based on the available memory, the estimated maximum model length is {estimated}. " if estimated > 0 else ""
            return {
                "check": "max_seq_len",
                "message": f"To serve at least one request with the models's max seq len ({max_model_len}), "
                f"({format_gib(s['kv_bytes_needed'])} GiB KV cache is needed, which is larger than the available KV cache "
                f"memory ({format_gib(s['available_kv_bytes'])} GiB). {estimated_msg}"
                "Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
            }
    return None


def estimate_vllm(spec: ModelSpec, options: ServingOptions) -> VllmEstimate:
    tp, pp = options.tp, options.pp
    gpu_bytes = options.gpu.memory_bytes
    util = options.gpu_memory_utilization
    if not 0 < util <= 1:
        raise InputError(f"gpu_memory_utilization {util} is not in (0, 1]: use e.g. 0.9")
    default_tokens, default_seqs = vllm_defaults(gpu_bytes, options.gpu.name)
    max_model_len = options.max_model_len or spec.max_position_embeddings or 4096
    if not options.allow_long_context:
        problem = context_problem(spec, max_model_len)
        if problem:
            raise InputError(problem)
    tokens = options.max_num_batched_tokens or default_tokens
    max_num_seqs = options.max_num_seqs or default_seqs
    num_reqs = min(max_num_seqs, tokens)
    dtype_bytes = activation_dtype_bytes(spec, options.dtype)
    kv_bytes = kv_dtype_bytes(options.kv_cache_dtype, dtype_bytes)
    fmt = weight_format(spec, options.quantization, dtype_bytes)
    requested = int(util * gpu_bytes)
    kv_cfg = kv_cache_config(
        spec, tp=tp, kv_bytes=kv_bytes, dtype_bytes=dtype_bytes, kv_cache_dtype=options.kv_cache_dtype, max_model_len=max_model_len
    )
    per_kind = kv_cfg.groups_per_kind
    encoder = encoder_cache_bytes(spec, tokens, dtype_bytes)

    rotary = rotary_cache_bytes(spec, dtype_bytes)
    non_torch = non_torch_forward_bytes(tp, pp)

    stages = []
    for stage in range(pp):
        last = stage == pp - 1
        weights = weights_terms(spec, fmt, dtype_bytes, tp, pp, stage)
        start, end = stage_layer_range(spec.num_layers, pp, stage)
        if fmt.name == "mxfp4" and weights.get("experts"):
            # NOTE: the experts as vLLM's MXFP4 MoE backend lays them out on this GPU (vllm_mxfp4).
            weights["experts"] = mxfp4_experts_bytes(spec, tp, options.gpu.name, moe_layers_in(spec, start, end))
        up_proj = mla_dequantized_up_proj_bytes(spec, fmt, dtype_bytes, tp, end - start)
        weights_total = sum(weights.values()) + rotary + up_proj
        peak = profile_peak_bytes(spec, tokens, num_reqs, dtype_bytes, tp, last, max_model_len, max_num_seqs)
        activation = peak["peak_bytes"] + encoder
        non_kv = weights_total + activation + non_torch
        available = requested - non_kv
        group_size = kv_cfg.stage_group_size(start, end)
        num_blocks = kv_cfg.num_blocks(available, start, end)
        needed = kv_cfg.memory_for_one_request(spec, max_model_len, tokens, group_size)
        if 0 < available < needed:
            estimated = kv_cfg.estimated_max_model_len(spec, available, max_model_len, tokens, group_size)
        else:
            estimated = max_model_len if available > 0 else 0
        cache = stage_cache_layout(spec, tp, kv_bytes, pp, stage, dtype_bytes=dtype_bytes, kv_cache_dtype=options.kv_cache_dtype)
        stages.append(
            {
                "stage": stage,
                "layers": end - start,
                "weights_bytes": weights_total,
                "weights_breakdown_bytes": {**weights, "rotary_cache": rotary, "mla_up_proj_copies": up_proj},
                "forward_peak_bytes": peak["forward_bytes"],
                "sampler_peak_bytes": peak["sampler_bytes"],
                "moe_workspace_bytes": peak["moe_workspace_bytes"],
                "encoder_cache_bytes": encoder,
                "activation_bytes": activation,
                "non_torch_bytes": non_torch,
                "non_kv_bytes": non_kv,
                "available_kv_bytes": available,
                "kv_bytes_needed": needed,
                "estimated_max_model_len": estimated,
                "kv_cache_group_size": group_size,
                "num_blocks": num_blocks,
                "kv_cache_bytes_per_token": cache.kv_bytes_per_token,
                "state_bytes_per_sequence": cache.state_bytes_per_sequence,
                "cache_layers": cache,
            }
        )

    first = stages[0]
    # NOTE: vLLM keeps the smallest worker's count; a stage whose layers cache nothing has no pool.
    num_blocks = min((s["num_blocks"] for s in stages if s["kv_cache_group_size"]), default=0)
    kv_tokens = kv_cfg.tokens(num_blocks)
    max_concurrency = kv_cfg.max_concurrency(spec, num_blocks, max_model_len, tokens)
    if spec.caches_nothing:
        # NOTE: no KV cache (encoder-only): a request holds nothing between steps, so the scheduler's
        # max_num_seqs is what bounds concurrency, as the planner says.
        max_concurrency = max_num_seqs
    first_cache = first.pop("cache_layers")
    for s in stages[1:]:
        s.pop("cache_layers")
    failure = _failure(spec, stages, max_model_len, gpu_bytes) or state_blocks_failure(kv_cfg, num_blocks, max_num_seqs)
    tightest = min(stages, key=lambda s: (s["available_kv_bytes"] - s["kv_bytes_needed"]))
    notes = [
        f"weights ({fmt.label}): linear layers in the format, embeddings/norms/LM head/routers in "
        f"{dtype_bytes * 8}-bit, vocab padded to 64, tp={tp} shards, first of {pp} pipeline stage(s), "
        "plus the rotary cos/sin cache",
        f"activation peak: max(dummy forward of {tokens} tokens through the largest layer + workspace, "
        f"sampler on {num_reqs} x vocab logits) - the sampler only on the last stage; MoE models keep "
        "the fused-MoE workspace allocated through both, MLA layers add their profiling kv_b_proj buffer",
        "non-torch: memory added during profiling (0.25 GiB on one GPU, ~2 GiB NCCL/all-reduce when tp > 1); "
        f"the CUDA context ({CUDA_CONTEXT_BYTES / GiB:.2f} GiB) predates profiling and is not charged",
        f"KV cache: {util} x GPU memory - (weights + activation peak + non-torch); blocks of "
        f"{kv_cfg.pages.block_size} tokens, the smallest stage's block count",
    ]
    notes.extend(kv_allocator_notes(kv_cfg, max_num_seqs))
    if spec.caches_nothing:
        notes.append(f"no KV cache (encoder-only): concurrency is the scheduler's cap, max_num_seqs {max_num_seqs:,}")
    if fmt.name == "mxfp4" and spec.breakdown.get("experts"):
        layout = mxfp4_expert_layout(spec, tp, options.gpu.name)
        notes.append(
            f"MXFP4 experts as vLLM's {layout.backend} MoE backend allocates them on {options.gpu.name}: "
            f"intermediate padded to {layout.intermediate} per GPU, hidden {layout.hidden}"
            + (", scales swizzled for Hopper and also kept as loaded, biases in fp32" if layout.backend == "triton" else "")
        )
    mm_note = encoder_cache_note(spec, tokens)
    if mm_note:
        notes.append(mm_note)
    if spec.max_position_embeddings and max_model_len > spec.max_position_embeddings:
        notes.append(
            f"max_model_len {max_model_len:,} is beyond the model's {spec.max_position_embeddings:,} positions "
            "(allowed by --allow-long-context, as VLLM_ALLOW_LONG_MAX_MODEL_LEN=1): outputs past the limit may be wrong"
        )
    return VllmEstimate(
        **layout_fields(options, dtype_bytes, fmt),
        weights_bytes_per_gpu=first["weights_bytes"],
        weights_breakdown_bytes=first["weights_breakdown_bytes"],
        activation_bytes=first["activation_bytes"],
        non_torch_bytes=first["non_torch_bytes"],
        kv_cache_bytes_per_gpu=max(0, first["available_kv_bytes"]),
        kv_cache_bytes_per_token=first["kv_cache_bytes_per_token"],
        state_bytes_per_sequence=first["state_bytes_per_sequence"],
        cache_layers=tuple(first_cache.to_dict()["layer_kinds"]),
        kv_cache_tokens=kv_tokens,
        max_concurrency=round(max_concurrency, 2),
        total_bytes_per_gpu=first["non_kv_bytes"] + max(0, first["available_kv_bytes"]) + CUDA_CONTEXT_BYTES,
        fits=failure is None,
        stages=tuple(stages) if pp > 1 else None,
        notes=tuple(notes),
        gpu_memory_utilization=util,
        max_num_batched_tokens=tokens,
        max_num_seqs=max_num_seqs,
        max_model_len=max_model_len,
        requested_memory_bytes=requested,
        cuda_context_bytes=CUDA_CONTEXT_BYTES,
        non_kv_bytes=first["non_kv_bytes"],
        kv_cache_bytes_needed=tightest["kv_bytes_needed"],
        estimated_max_model_len=tightest["estimated_max_model_len"],
        num_blocks=num_blocks,
        starts=failure is None,
        failure=failure,
        kv_cache_block_size=kv_cfg.pages.block_size,
        kv_cache_page_bytes=kv_cfg.page_bytes,
        state_page_padding_bytes=kv_cfg.pages.state_padding_bytes,
        kv_cache_group_size=kv_cfg.group_size,
        kv_cache_groups=per_kind,
        encoder_cache_bytes=encoder,
    )


def state_blocks_failure(cfg: VllmKVConfig, num_blocks: int, max_num_seqs: int) -> dict | None:
    """Models with fixed-state layers capture FULL decode CUDA graphs for up to max_num_seqs sequences,
    each needing one state block: vLLM 0.19 refuses to start when the pool has fewer blocks
    (GPUModelRunner._check_and_update_cudagraph_mode, vllm-project/vllm#38270, merged 2026-03-26,
    a week before the 0.19.0 release; the same error in later logs: "max_num_seqs (1024) exceeds
    available Mamba cache blocks (856)", Qwen3.6-27B-FP8 on one H100). Not yet checked against a
    0.19.0 log of our own."""
    if not any(g.kind == STATE_KIND for g in cfg.groups) or max_num_seqs <= num_blocks:
        return None
    return {
        "check": "mamba_cache_blocks",
        "message": f"max_num_seqs ({max_num_seqs}) exceeds available Mamba cache blocks ({num_blocks}). Each decode "
        "sequence requires one Mamba cache block, so CUDA graph capture cannot proceed. Please lower max_num_seqs to "
        f"at most {num_blocks} or increase gpu_memory_utilization.",
    }


def kv_allocator_notes(cfg: VllmKVConfig, max_num_seqs: int) -> list[str]:
    """What the hybrid allocator did, in words (nothing for a model with one kind of layer)."""
    notes = []
    if cfg.pages.state_page_bytes and cfg.pages.attention_page_bytes:
        notes.append(
            f"hybrid: one page for every layer: the attention block is raised to {cfg.pages.block_size} tokens so its "
            f"page ({cfg.page_bytes:,} bytes) holds one layer's fixed state ({cfg.pages.state_page_bytes:,} bytes, "
            f"padded by {cfg.pages.state_padding_bytes:,}); each running sequence holds one state block per state group, "
            f"and at most max_num_seqs={max_num_seqs} run at once"
        )
    elif cfg.pages.state_page_bytes:
        notes.append(
            "attention-free model: each sequence's state is one block (block size = max_model_len, so vLLM's token "
            f"count is blocks x max_model_len); at most max_num_seqs={max_num_seqs} run at once"
        )
    if len(cfg.groups) > 1:
        notes.append(
            f"hybrid KV allocator: {len(cfg.groups)} groups of {cfg.group_size} layers ({cfg.groups_per_kind}"
            + (f", {cfg.padding_layers} padding layer(s)" if cfg.padding_layers else "")
            + "); vLLM's token count is blocks // groups x block size"
        )
    return notes
