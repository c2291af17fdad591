"""What each decoder layer keeps between decoding steps, on one GPU: engine-neutral.

Two kinds of memory, never mixed up:
- KV per token: attention layers keep K and V (MLA: one latent; DeepSeek-V3.2 also its indexer key)
  for every token of the sequence; sliding-window layers at most `sliding_window` tokens, chunked
  (Llama 4 local) layers at most `attention_chunk_size`.
- state per sequence: Mamba / Mamba-2 / gated delta-net / short-conv layers keep a fixed conv state
  (+ SSM or recurrent state) per sequence, however long it is.

Shapes and dtypes follow vLLM (0.19), the engine that documents them per layer:
- attention: AttentionSpec.real_page_size_bytes (v1/kv_cache_interface.py): 2 x KV heads per rank x
  head_size x dtype per token; KV heads split while tp <= heads, else one replicated head per rank.
- MLA: MLAAttentionSpec: one head of kv_lora_rank + qk_rope_head_dim per token, never split by tp;
  DeepSeek-V3.2 with an fp8 cache uses the "fp8_ds_mla" layout: 656 bytes per token
  (models/config.py DeepseekV32ForCausalLM.verify_and_update_config, flashmla_sparse.py).
- DeepSeek-V3.2 indexer: DeepseekV32IndexerCache (models/deepseek_v2.py) caches one fp8 key of
  index_head_dim per token with one fp32 scale per 128 values (uint8 MLAAttentionSpec of
  head_size = index_head_dim + index_head_dim // 128 * 4, one head, not split by tp), whatever the
  KV cache dtype.
- fixed states: MambaStateShapeCalculator (model_executor/layers/mamba/mamba_utils.py):
  mamba1 conv (d_conv - 1, d_inner / tp), ssm (d_inner / tp, d_state);
  mamba2 conv (d_conv - 1, (d_inner + 2 n_groups' d_state) / tp) with n_groups' raised to tp when
  tp does not divide it (extra_groups_for_head_shards), ssm (heads / tp, head_dim, d_state);
  gated delta-net conv (k - 1, (2 k_heads k_dim + v_heads v_dim) / tp), recurrent
  (v_heads / tp, v_dim, k_dim); short conv (L_cache - 1, hidden / tp).
  Dtypes: MambaStateDtypeCalculator: the conv state in mamba_cache_dtype ("auto": the model dtype),
  the SSM / recurrent state in mamba_ssm_cache_dtype ("auto": the conv state's dtype). vLLM sets the
  latter from the config for Nemotron-H ("mamba_ssm_cache_dtype") and Qwen3.5 ("mamba_ssm_dtype"):
  spec.state_dtype carries it.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from .errors import InputError
from .spec import (
    CHUNKED_ATTENTION,
    FULL_ATTENTION,
    LINEAR_ATTENTION,
    MAMBA,
    NO_CACHE,
    SHORT_CONV,
    SLIDING_ATTENTION,
    STATE_KINDS,
    ModelSpec,
)

# NOTE: DeepseekV32Indexer stores its keys in fp8 with one fp32 scale per quant block of 128 values.
INDEXER_QUANT_BLOCK = 128
INDEXER_SCALE_BYTES = 4
# NOTE: "fp8_ds_mla" (DeepSeek-V3.2 with an fp8 KV cache): 512 fp8 latent values, 4 fp32 scales
# (16 bytes) and 64 bf16 rope values (128 bytes) per token.
FP8_DS_MLA_BYTES_PER_TOKEN = 656

STATE_DTYPE_BYTES = {"float32": 4, "fp32": 4, "float16": 2, "fp16": 2, "half": 2, "bfloat16": 2, "bf16": 2}


@dataclass(frozen=True)
class StateTensor:
    """One tensor a fixed-state layer keeps per sequence (vLLM MambaSpec.shapes / dtypes)."""

    name: str  # "conv" or "ssm" (Mamba's SSM state, gated delta-net's recurrent state)
    shape: tuple[int, ...]
    dtype_bytes: int

    @property
    def bytes(self) -> int:
        return prod(self.shape) * self.dtype_bytes


@dataclass(frozen=True)
class LayerKindCache:
    """The layers of one kind on one GPU, and what each of them keeps."""

    kind: str  # one of spec.LAYER_KINDS (NO_CACHE layers are left out)
    layers: int
    bytes_per_token: int = 0  # per layer: attention kinds only
    window: int | None = None  # sliding / chunked: the most tokens a layer keeps; None: all of them
    state: tuple[StateTensor, ...] = ()  # per layer and sequence: state kinds only

    @property
    def state_bytes(self) -> int:
        """Fixed state of one layer for one sequence."""
        return sum(t.bytes for t in self.state)

    def bytes_per_sequence(self, tokens: int) -> int:
        """What all layers of this kind keep for one sequence of `tokens` tokens."""
        kept = tokens if self.window is None else min(tokens, self.window)
        return self.layers * (kept * self.bytes_per_token + self.state_bytes)


@dataclass(frozen=True)
class CacheLayout:
    """Everything the layers on one GPU keep, by kind (attention kinds first, in LAYER order)."""

    kinds: tuple[LayerKindCache, ...]

    @property
    def kv_bytes_per_token(self) -> int:
        """KV bytes one more token of context costs on this GPU while it is inside every window."""
        return sum(k.layers * k.bytes_per_token for k in self.kinds)

    @property
    def full_kv_bytes_per_token(self) -> int:
        """KV bytes per token of the layers that keep every token (full attention, MLA)."""
        return sum(k.layers * k.bytes_per_token for k in self.kinds if k.window is None)

    @property
    def state_bytes_per_sequence(self) -> int:
        """Fixed state bytes one sequence holds on this GPU (0 for attention-only models)."""
        return sum(k.layers * k.state_bytes for k in self.kinds)

    def bytes_per_sequence(self, tokens: int) -> int:
        """KV of `tokens` tokens (windows applied) plus the fixed state, for one sequence."""
        return sum(k.bytes_per_sequence(tokens) for k in self.kinds)

    def kind(self, kind: str) -> LayerKindCache | None:
        return next((k for k in self.kinds if k.kind == kind), None)

    def to_dict(self) -> dict:
        return {
            "kv_cache_bytes_per_token": self.kv_bytes_per_token,
            "state_bytes_per_sequence": self.state_bytes_per_sequence,
            "layer_kinds": [
                {
                    "kind": k.kind,
                    "layers": k.layers,
                    "kv_bytes_per_token_per_layer": k.bytes_per_token,
                    "window_tokens": k.window,
                    "state_bytes_per_layer": k.state_bytes,
                    "state_tensors": [{"name": t.name, "shape": list(t.shape), "dtype_bytes": t.dtype_bytes} for t in k.state],
                }
                for k in self.kinds
            ],
        }


# ---------------------------------------------------------------------------------------------
# dtypes


def dtype_name_bytes(name: str | None, default: int) -> int:
    """Bytes of a state dtype name ("float32", "bfloat16", ...); None / "auto": `default`."""
    if name is None or str(name).lower() == "auto":
        return default
    key = str(name).lower().removeprefix("torch.")
    if key not in STATE_DTYPE_BYTES:
        raise InputError(f"unknown state dtype {name!r}: use auto, float32, bfloat16 or float16")
    return STATE_DTYPE_BYTES[key]


def is_fp8(kv_cache_dtype: str | None) -> bool:
    return str(kv_cache_dtype or "auto").lower().startswith("fp8")


# ---------------------------------------------------------------------------------------------
# attention


def kv_heads_per_rank(spec: ModelSpec, tp: int) -> int:
    """KV heads each tensor-parallel rank holds: split while tp <= KV heads, else each rank keeps one
    replicated head (vLLM QKVParallelLinear: num_kv_heads = max(1, total_num_kv_heads // tp))."""
    kv_heads = spec.num_kv_heads or spec.num_attention_heads or 1
    return max(1, kv_heads // tp)


def attention_bytes_per_token(spec: ModelSpec, tp: int, kv_bytes: int, kv_cache_dtype: str = "auto") -> int:
    """KV bytes one token takes in one attention layer on one GPU (indexer keys included).

    Standard attention: K and V, each KV heads per rank x head_dim. MLA: one latent of
    kv_lora_rank + qk_rope_head_dim per token on every rank (656 bytes in DeepSeek-V3.2's fp8 layout),
    plus DeepSeek-V3.2's indexer key (indexer_bytes_per_token).
    """
    if spec.is_mla:
        if spec.index_head_dim and is_fp8(kv_cache_dtype):
            latent = FP8_DS_MLA_BYTES_PER_TOKEN
        else:
            latent = (spec.kv_lora_rank + (spec.qk_rope_head_dim or 0)) * kv_bytes
        return latent + indexer_bytes_per_token(spec)
    if not spec.num_attention_heads and not spec.head_dim:
        raise InputError(f"{spec.name} has attention layers but no head count: give its config.json")
    head_dim = spec.head_dim or (spec.hidden_size // spec.num_attention_heads)
    return 2 * kv_heads_per_rank(spec, tp) * head_dim * kv_bytes


def indexer_bytes_per_token(spec: ModelSpec) -> int:
    """DeepSeek-V3.2's sparse-attention indexer key per token and layer: index_head_dim fp8 values
    plus one fp32 scale per 128 of them (0 for models without an indexer)."""
    if not spec.index_head_dim:
        return 0
    return spec.index_head_dim + spec.index_head_dim // INDEXER_QUANT_BLOCK * INDEXER_SCALE_BYTES


def attention_window(spec: ModelSpec, kind: str) -> int | None:
    """The most tokens one layer of this kind keeps (None: every token)."""
    if kind == SLIDING_ATTENTION:
        return spec.sliding_window
    if kind == CHUNKED_ATTENTION:
        return spec.attention_chunk_size
    return None


# ---------------------------------------------------------------------------------------------
# fixed states


def _split(channels: int, tp: int, what: str) -> int:
    if channels % tp:
        raise InputError(f"tensor parallelism {tp} does not divide the {channels} {what}: pick a divisor of {channels}")
    return channels // tp


def state_tensors(spec: ModelSpec, kind: str, tp: int, dtype_bytes: int, state_dtype: str | None = None) -> tuple[StateTensor, ...]:
    """The tensors one layer of a fixed-state kind keeps per sequence on one GPU.

    `dtype_bytes` is the conv state's element size (vLLM mamba_cache_dtype "auto": the model dtype);
    the SSM / recurrent state uses `state_dtype`, else spec.state_dtype, else the conv dtype.
    """
    ssm_bytes = dtype_name_bytes(state_dtype or spec.state_dtype, dtype_bytes)
    if kind == MAMBA:
        m = spec.mamba
        if m is None:
            raise InputError(f"{spec.name} has Mamba layers but no mixer dims: give its config.json")
        if m.version == 1:
            inner = _split(m.intermediate, tp, "Mamba inner channels")
            return (
                StateTensor("conv", (m.conv_kernel - 1, inner), dtype_bytes),
                StateTensor("ssm", (inner, m.state_size), ssm_bytes),
            )
        heads = _split(m.num_heads or 1, tp, "Mamba-2 heads")
        groups = m.n_groups if m.n_groups % tp == 0 else m.n_groups + tp - m.n_groups  # NOTE: groups replicated to follow the head shards
        conv_dim = _split(m.intermediate + 2 * groups * m.state_size, tp, "Mamba-2 conv channels")
        return (
            StateTensor("conv", (m.conv_kernel - 1, conv_dim), dtype_bytes),
            StateTensor("ssm", (heads, m.head_dim or 0, m.state_size), ssm_bytes),
        )
    if kind == LINEAR_ATTENTION:
        g = spec.linear_attention
        if g is None:
            raise InputError(f"{spec.name} has linear-attention layers but no mixer dims: give its config.json")
        conv_dim = _split(2 * g.num_k_heads * g.head_k_dim + g.num_v_heads * g.head_v_dim, tp, "gated delta-net conv channels")
        v_heads = _split(g.num_v_heads, tp, "gated delta-net value heads")
        return (
            StateTensor("conv", (g.conv_kernel - 1, conv_dim), dtype_bytes),
            StateTensor("ssm", (v_heads, g.head_v_dim, g.head_k_dim), ssm_bytes),
        )
    if kind == SHORT_CONV:
        s = spec.short_conv
        if s is None:
            raise InputError(f"{spec.name} has short-conv layers but no mixer dims: give its config.json")
        return (StateTensor("conv", (s.l_cache - 1, _split(s.hidden, tp, "short-conv channels")), dtype_bytes),)
    raise ValueError(f"{kind!r} keeps no fixed state")


def state_tp_problem(spec: ModelSpec, tp: int) -> str | None:
    """The line a tensor-parallel size gets when it does not split a fixed-state mixer's channels
    (vLLM's `divide` asserts in MambaStateShapeCalculator), else None."""
    for kind in sorted(set(layer_kinds(spec)) & STATE_KINDS):
        try:
            state_tensors(spec, kind, tp, 2)
        except InputError as error:
            return str(error)
    return None


# ---------------------------------------------------------------------------------------------
# the layout


def layer_kinds(spec: ModelSpec) -> list[str]:
    """One kind per decoder layer: the spec's layer_types, else every layer full attention."""
    layers = spec.num_layers or 0
    if len(spec.layer_types) == layers:
        return list(spec.layer_types)
    return [FULL_ATTENTION] * layers


def cache_layout(
    spec: ModelSpec,
    *,
    tp: int = 1,
    kv_bytes: int = 2,
    dtype_bytes: int = 2,
    kv_cache_dtype: str = "auto",
    state_dtype: str | None = None,
    layers: range | None = None,
) -> CacheLayout:
    """What the decoder layers in `layers` (default: all; a pipeline stage's range) keep on one GPU.

    kv_bytes: the KV cache element size; dtype_bytes: the model dtype (conv states); state_dtype
    overrides the SSM / recurrent state dtype (vLLM --mamba-ssm-cache-dtype).
    """
    kinds = layer_kinds(spec)
    if layers is not None:
        kinds = kinds[layers.start : layers.stop]
    counts: dict[str, int] = {}
    for kind in kinds:
        if kind != NO_CACHE:
            counts[kind] = counts.get(kind, 0) + 1
    out = []
    for kind, n in counts.items():
        if kind in STATE_KINDS:
            out.append(LayerKindCache(kind, n, state=state_tensors(spec, kind, tp, dtype_bytes, state_dtype)))
        else:
            per_token = attention_bytes_per_token(spec, tp, kv_bytes, kv_cache_dtype)
            out.append(LayerKindCache(kind, n, bytes_per_token=per_token, window=attention_window(spec, kind)))
    return CacheLayout(tuple(out))
