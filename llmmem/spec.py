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
#   attention_replicated  attention weights every rank holds whole (MLA's low-rank down projections)
#   mlp                   dense feed-forward weights and biases
#   experts               routed MoE experts, all of them
#   shared_experts        MoE experts every token goes through
#   router                MoE gates
#   norms                 layer norms, q/k norms, final norm
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
    "norms",
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
)

FULL_ATTENTION = "full_attention"
SLIDING_ATTENTION = "sliding_attention"


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

    # Per decoder layer: FULL_ATTENTION or SLIDING_ATTENTION (empty when unknown: all full).
    layer_types: tuple[str, ...] = ()
    sliding_window: int | None = None

    tie_word_embeddings: bool = False
    torch_dtype: str | None = None  # the checkpoint's dtype, as config.json names it
    quantization: Mapping | None = None  # config.json's quantization_config, as given

    def __post_init__(self) -> None:
        if self.parameters <= 0:
            raise ValueError(f"parameters must be positive, got {self.parameters}")
        if self.breakdown and sum(self.breakdown.values()) != self.parameters:
            raise ValueError(f"breakdown of {self.name} adds up to {sum(self.breakdown.values())}, not {self.parameters}")

    @property
    def is_moe(self) -> bool:
        return bool(self.num_experts)

    @property
    def is_mla(self) -> bool:
        return bool(self.kv_lora_rank)

    @property
    def has_shape(self) -> bool:
        """True when the spec came from a config (layers, heads, dims known), not a bare count."""
        return self.num_layers is not None and self.hidden_size is not None
