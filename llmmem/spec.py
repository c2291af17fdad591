"""ModelSpec: everything the estimator needs to know about a model, and nothing about where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

# Parameter groups, by how a serving engine treats them. `ModelSpec.breakdown` maps these keys to
# counts that add up to `parameters` (a raw parameter count has no breakdown).
#   embedding             token embeddings (split by vocabulary across tensor-parallel ranks)
#   position_embedding    learned position embeddings (replicated)
#   lm_head               output projection when it is not tied to the embeddings
#   attention_qo          query and output projections, with their biases (split by attention heads)
#   attention_kv          key and value projections, with their biases (split by KV heads,
#                         replicated once tensor parallelism exceeds the KV heads)
#   attention_replicated  attention weights every rank holds whole (MLA's low-rank down projections,
#                         DeepSeek-V3.2's indexer)
#   mlp                   dense feed-forward weights and biases
#   experts               routed MoE experts, all of them
#   shared_experts        MoE experts every token goes through
#   router                MoE gates (and their score-correction biases)
#   ssm_proj              linear projections of the fixed-state mixers (Mamba/Mamba-2 in/x/dt/out
#                         projections, gated delta-net q/k/v/z/b/a/out projections, short-conv in/out
#                         projections): split by tensor parallelism, stored low-bit in quantized checkpoints
#   ssm_other             the rest of those mixers: depthwise conv1d weights and biases, A_log, D,
#                         dt_bias, the gated norms inside the mixer (split by tensor parallelism, 16/32-bit)
#   norms                 layer norms, q/k norms, final norm
#   vision                the vision tower (encoder), everything in it (see ModelSpec.parts)
#   projector             the multimodal projector between the vision tower and the text model
#   other                 anything else (attention sinks, ...)
BREAKDOWN_KEYS: tuple[str, ...] = (
    "embedding",
    "position_embedding",
    "lm_head",
    "attention_qo",
    "attention_kv",
    "attention_replicated",
    "mlp",
    "experts",
    "shared_experts",
    "router",
    "ssm_proj",
    "ssm_other",
    "norms",
    "vision",
    "projector",
    "other",
)

# Groups that are linear-layer weights, which quantized checkpoints store in their low-bit format;
# the rest stays in the checkpoint's 16-bit dtype.
QUANTIZABLE_KEYS: tuple[str, ...] = (
    "attention_qo",
    "attention_kv",
    "attention_replicated",
    "mlp",
    "experts",
    "shared_experts",
    "ssm_proj",
)

# Parts of a model, for the report: the text model (everything not in another part), the vision
# tower, the projector. `ModelSpec.parts` may carry each non-text part's own breakdown.
TEXT_PART, VISION_PART, PROJECTOR_PART = "text", "vision", "projector"
PART_KEYS: tuple[str, ...] = (VISION_PART, PROJECTOR_PART)  # parts that are one breakdown key each

# Per-layer kinds (ModelSpec.layer_types), by what the layer keeps in the cache:
FULL_ATTENTION = "full_attention"  # K and V (or MLA's latent) of every token
SLIDING_ATTENTION = "sliding_attention"  # K and V of the last `sliding_window` tokens
CHUNKED_ATTENTION = "chunked_attention"  # K and V within the current `attention_chunk_size` chunk (Llama 4)
MAMBA = "mamba"  # Mamba or Mamba-2 mixer: conv state + SSM state per sequence (ModelSpec.mamba)
LINEAR_ATTENTION = "linear_attention"  # gated delta-net: conv state + recurrent state per sequence
SHORT_CONV = "short_conv"  # LFM2's gated short convolution: conv state per sequence (ModelSpec.short_conv)
NO_CACHE = "no_cache"  # nothing cached: MLP-only or MoE-only blocks (Nemotron-H's '-' and 'E')

# Per-layer feed-forward kinds (ModelSpec.ffn_types).
FFN_DENSE, FFN_MOE, FFN_NONE = "dense", "moe", "none"

ATTENTION_KINDS: frozenset[str] = frozenset({FULL_ATTENTION, SLIDING_ATTENTION, CHUNKED_ATTENTION})
STATE_KINDS: frozenset[str] = frozenset({MAMBA, LINEAR_ATTENTION, SHORT_CONV})
LAYER_KINDS: frozenset[str] = ATTENTION_KINDS | STATE_KINDS | {NO_CACHE}

# Which path counted the parameters (ModelSpec.counted_by).
COUNTED_EXACT = "exact"  # llmmem's family table: transformers' count to the unit
COUNTED_BY_TRANSFORMERS = "transformers"  # the optional extra built the class on the meta device
COUNTED_GENERIC = "generic"  # the generic decoder formula: approximate
COUNTED_GIVEN = "given"  # a bare count the user typed, or the checkpoint's own total
COUNTED_LABELS: Mapping[str, str] = {
    COUNTED_EXACT: "exact (llmmem family table, as transformers builds it)",
    COUNTED_BY_TRANSFORMERS: "counted by transformers (model built on the meta device from the config)",
    COUNTED_GENERIC: "approximate (generic decoder formula)",
    COUNTED_GIVEN: "given",
}


@dataclass(frozen=True)
class MambaMixer:
    """One Mamba (version 1) or Mamba-2 mixer's dims, the same in every MAMBA layer.

    Mamba 1 (mamba, falcon_mamba, jamba): d_inner = `intermediate`, d_state = `state_size`,
    d_conv = `conv_kernel`; vLLM keeps a conv state of (d_conv - 1) x d_inner and an SSM state of
    d_inner x d_state per sequence. Mamba-2 (mamba2, nemotron_h, ...): also `n_groups`, `num_heads`,
    `head_dim`; conv state (conv_kernel - 1) x (intermediate + 2 n_groups state_size), SSM state
    num_heads x head_dim x state_size.
    """

    version: int  # 1 or 2
    intermediate: int  # d_inner (mamba2: num_heads * head_dim)
    state_size: int  # d_state
    conv_kernel: int  # d_conv
    n_groups: int = 1  # Mamba-2 only (B and C groups)
    num_heads: int | None = None  # Mamba-2 only
    head_dim: int | None = None  # Mamba-2 only
    time_step_rank: int | None = None  # Mamba 1 only (dt_rank); weights only, no state


@dataclass(frozen=True)
class GatedDeltaNet:
    """One gated delta-net (linear attention) mixer's dims (Qwen3-Next, Qwen3.5).

    vLLM keeps a conv state of (conv_kernel - 1) x (2 num_k_heads head_k_dim + num_v_heads head_v_dim)
    and a recurrent state of num_v_heads x head_k_dim x head_v_dim per sequence.
    """

    num_k_heads: int
    num_v_heads: int
    head_k_dim: int
    head_v_dim: int
    conv_kernel: int


@dataclass(frozen=True)
class ShortConv:
    """LFM2's gated short convolution: a depthwise conv over `hidden` channels of `l_cache` taps;
    the state per sequence is (l_cache - 1) x hidden."""

    hidden: int
    l_cache: int


@dataclass(frozen=True)
class ModelSpec:
    """A model as the estimator sees it. Only `name` and `parameters` are required."""

    name: str
    parameters: int
    model_type: str | None = None
    # Parameters one token goes through (MoE); None for dense models.
    active_parameters: int | None = None
    # True when the count comes from a generic formula rather than the family's exact layout.
    approximate: bool = False
    breakdown: Mapping[str, int] = field(default_factory=dict)
    # One decoder block or the embedding, whichever is bigger: the smallest unit an offload moves.
    largest_layer_parameters: int | None = None

    num_layers: int | None = None
    hidden_size: int | None = None
    vocab_size: int | None = None
    num_attention_heads: int | None = None
    num_kv_heads: int | None = None
    head_dim: int | None = None  # per head, of queries and keys
    v_head_dim: int | None = None  # per head, of values, when it differs (MLA)
    intermediate_size: int | None = None
    max_position_embeddings: int | None = None

    num_experts: int | None = None
    experts_per_token: int | None = None
    moe_intermediate_size: int | None = None
    num_shared_experts: int | None = None
    num_dense_layers: int | None = None  # leading dense layers before the MoE ones (DeepSeek)

    # Multi-head latent attention (DeepSeek V2/V3, Kimi): the KV cache holds one latent per layer.
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None

    # DeepSeek-V3.2's sparse-attention indexer: it caches one key of index_head_dim per token and
    # layer (beside the MLA latent) and picks index_topk tokens per query.
    index_n_heads: int | None = None
    index_head_dim: int | None = None
    index_topk: int | None = None

    # Per decoder layer, one of LAYER_KINDS (empty when unknown: all FULL_ATTENTION). Attention
    # fields (heads, head_dim, ...) describe the attention layers only.
    layer_types: tuple[str, ...] = ()
    # Per decoder layer, its feed-forward: FFN_DENSE, FFN_MOE or FFN_NONE (Nemotron-H's mixer-only blocks,
    # pure SSMs); empty when unknown. Says where dense and MoE weights sit when they interleave (Jamba,
    # Nemotron-H, Llama 4 Maverick), e.g. for a pipeline split.
    ffn_types: tuple[str, ...] = ()
    sliding_window: int | None = None
    attention_chunk_size: int | None = None  # CHUNKED_ATTENTION layers (Llama 4)
    # Fixed-state mixers, set when some layer is of that kind.
    mamba: MambaMixer | None = None  # MAMBA layers
    linear_attention: GatedDeltaNet | None = None  # LINEAR_ATTENTION layers
    short_conv: ShortConv | None = None  # SHORT_CONV layers
    # The dtype the config asks for the SSM/recurrent state (e.g. Nemotron-H "mamba_ssm_cache_dtype":
    # "float32"); None: the engine's default.
    state_dtype: str | None = None

    tie_word_embeddings: bool = False
    torch_dtype: str | None = None  # the checkpoint's dtype, as config.json names it
    quantization: Mapping | None = None  # config.json's quantization_config, as given

    # Multi-token-prediction layers the config declares (num_nextn_predict_layers, mtp_num_hidden_layers,
    # num_mtp_modules): the checkpoint ships them, transformers does not build them, so they are NOT in
    # `parameters` or `breakdown`; `mtp_parameters` is what they add to the checkpoint (0 when unknown).
    mtp_layers: int = 0
    mtp_parameters: int = 0

    # Per non-text part (PART_KEYS: "vision", "projector"), that part's own breakdown; each adds up
    # to breakdown[part]. The text part is everything else.
    parts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    # Which path counted `parameters`, one of COUNTED_LABELS' keys. None: derived (approximate ->
    # generic; no config shape -> given; else exact).
    counted_by: str | None = None
    notes: tuple[str, ...] = ()  # what the count includes or leaves out, and why (one line each)

    def __post_init__(self) -> None:
        if isinstance(self.parameters, bool) or not isinstance(self.parameters, int):
            raise TypeError(f"parameters must be an int, got {self.parameters!r}")
        if self.parameters <= 0:
            raise ValueError(f"parameters must be positive, got {self.parameters}")
        if any(type(count) is not int for count in self.breakdown.values()):
            raise TypeError(f"breakdown of {self.name} must hold ints, got {dict(self.breakdown)!r}")
        if type(self.tie_word_embeddings) is not bool:
            raise TypeError(f"tie_word_embeddings must be a bool, got {self.tie_word_embeddings!r}")
        if self.breakdown and sum(self.breakdown.values()) != self.parameters:
            raise ValueError(f"breakdown of {self.name} adds up to {sum(self.breakdown.values())}, not {self.parameters}")
        for part, sub in self.parts.items():
            if part not in PART_KEYS:
                raise ValueError(f"unknown part {part!r} of {self.name}: use one of {PART_KEYS}")
            if sum(sub.values()) != self.breakdown.get(part, 0):
                raise ValueError(f"{part} breakdown of {self.name} adds up to {sum(sub.values())}, not {self.breakdown.get(part, 0)}")
        unknown = set(self.layer_types) - LAYER_KINDS
        if unknown:
            raise ValueError(f"unknown layer kinds {sorted(unknown)} in {self.name}")
        if self.counted_by is None:
            derived = COUNTED_GENERIC if self.approximate else COUNTED_EXACT if self.has_shape else COUNTED_GIVEN
            object.__setattr__(self, "counted_by", derived)
        if self.counted_by not in COUNTED_LABELS:
            raise ValueError(f"counted_by must be one of {sorted(COUNTED_LABELS)}, got {self.counted_by!r}")

    @property
    def is_moe(self) -> bool:
        return bool(self.num_experts)

    @property
    def is_mla(self) -> bool:
        return bool(self.kv_lora_rank)

    @property
    def caches_nothing(self) -> bool:
        """No layer keeps anything per token or per sequence (encoder-only models)."""
        return bool(self.layer_types) and all(kind == NO_CACHE for kind in self.layer_types)

    @property
    def attention_head_dim(self) -> int:
        """head_dim, or hidden_size / attention heads when the config gives none (transformers' default)."""
        return self.head_dim or self.hidden_size // self.num_attention_heads

    @property
    def part_totals(self) -> dict[str, int]:
        """Parameters per part: text, and vision / projector when the model has them."""
        totals = {part: self.breakdown[part] for part in PART_KEYS if self.breakdown.get(part)}
        return {TEXT_PART: self.parameters - sum(totals.values()), **totals}

    @property
    def count_label(self) -> str:
        return COUNTED_LABELS[self.counted_by]

    def layers_of_kind(self, *kinds: str) -> int:
        """How many layers are of the given kinds (no layer_types: every layer is full attention)."""
        types = self.layer_types or (FULL_ATTENTION,) * (self.num_layers or 0)
        return sum(kind in kinds for kind in types)

    @property
    def is_hybrid(self) -> bool:
        """True when some layer keeps a fixed state per sequence (Mamba, linear attention, short conv)."""
        return any(kind in STATE_KINDS for kind in self.layer_types)

    @property
    def has_shape(self) -> bool:
        """True when the spec came from a config (layers, heads, dims known), not a bare count."""
        return self.num_layers is not None and self.hidden_size is not None
