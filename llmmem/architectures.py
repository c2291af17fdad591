"""config.json -> ModelSpec, with the exact parameter count transformers allocates for it.

Every family is one row of `FAMILIES`: flags that say which biases, norms, MLP and MoE layout its
decoder layers have. A handful of helpers (attention, MLA attention, MLP, MoE, norms) turn those flags
into parameter groups (spec.BREAKDOWN_KEYS), one decoder layer at a time.

Counts follow the causal-LM classes of transformers 5.24.0 (model built on the meta device, tied
tensors counted once, buffers not counted). Checked to the unit against that version for every
family here; see tests/test_architectures.py.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping

from llmmem.encoders import encoder_spec, is_encoder
from llmmem.errors import ConfigError
from llmmem.multimodal import multimodal_spec, multimodal_type
from llmmem.spec import BREAKDOWN_KEYS, FULL_ATTENTION, SLIDING_ATTENTION, ModelSpec

# A bias or flag: fixed for the family (bool), or read from the config as (key, default when absent).
Flag = Any


@dataclass(frozen=True)
class Family:
    """How one transformers model_type lays out its parameters."""

    tie_default: bool = False  # the config class's tie_word_embeddings default
    qkv_bias: Flag = False  # biases on the q, k, v projections
    o_bias: Flag = False  # bias on the output projection
    mlp: str = "gated"  # "gated": gate/up/down (SwiGLU-like); "plain": up/down (GELU MLP)
    mlp_bias: Flag = False  # biases in the dense MLP
    norm_bias: bool = False  # LayerNorm with a bias (weight + bias) instead of RMSNorm (weight only)
    layer_norms: int = 2  # hidden-size norms per decoder layer
    qk_norm: str | None = None  # "head": per head (Qwen3, Gemma3); "all_heads": over q/k width (OLMo2)
    lm_head_bias: bool = False
    # Which MoE layout, if any: see _moe_block.
    moe: str | None = None
    # Which layers use a sliding window: see _layer_types.
    sliding: str = "none"
    mla: bool = False  # DeepSeek multi-head latent attention
    # Config class defaults for keys real configs sometimes omit (transformers 5.24.0 config classes).
    defaults: Mapping[str, Any] = field(default_factory=dict)


_LLAMA = Family(qkv_bias=("attention_bias", False), o_bias=("attention_bias", False), mlp_bias=("mlp_bias", False))
_QWEN_MOE_DEFAULTS = {"decoder_sparse_step": 1, "mlp_only_layers": []}

FAMILIES: dict[str, Family] = {
    "llama": _LLAMA,
    "mistral": Family(sliding="all", defaults={"sliding_window": 4096}),
    "mixtral": Family(moe="mixtral", sliding="all", defaults={"num_local_experts": 8, "num_experts_per_tok": 2}),
    "qwen2": Family(qkv_bias=True, sliding="qwen2"),
    "qwen2_moe": Family(
        qkv_bias=("qkv_bias", True),
        moe="qwen2_moe",
        sliding="qwen2_moe",
        defaults={
            **_QWEN_MOE_DEFAULTS,
            "num_experts": 60,
            "num_experts_per_tok": 4,
            "moe_intermediate_size": 1408,
            "shared_expert_intermediate_size": 5632,
        },
    ),
    "qwen3": Family(
        qkv_bias=("attention_bias", False),
        o_bias=("attention_bias", False),
        qk_norm="head",
        sliding="qwen2",
        defaults={"head_dim": 128},
    ),
    "qwen3_moe": Family(
        qkv_bias=("attention_bias", False),
        o_bias=("attention_bias", False),
        qk_norm="head",
        moe="qwen3_moe",
        sliding="all_if_enabled",
        defaults={**_QWEN_MOE_DEFAULTS, "num_experts": 128, "num_experts_per_tok": 8, "moe_intermediate_size": 768},
    ),
    "gemma": Family(
        tie_default=True, qkv_bias=("attention_bias", False), o_bias=("attention_bias", False), defaults={"head_dim": 256}
    ),
    "gemma2": Family(
        tie_default=True,
        qkv_bias=("attention_bias", False),
        o_bias=("attention_bias", False),
        layer_norms=4,
        sliding="alternate",
        defaults={"head_dim": 256, "sliding_window": 4096},
    ),
    "gemma3_text": Family(
        tie_default=True,
        qkv_bias=("attention_bias", False),
        o_bias=("attention_bias", False),
        layer_norms=4,
        qk_norm="head",
        sliding="gemma3",
        defaults={"head_dim": 256, "sliding_window": 4096},
    ),
    "phi": Family(qkv_bias=True, o_bias=True, mlp="plain", mlp_bias=True, norm_bias=True, layer_norms=1, lm_head_bias=True),
    "phi3": Family(sliding="all"),
    "gpt2": Family(tie_default=True, qkv_bias=True, o_bias=True, mlp="plain", mlp_bias=True, norm_bias=True),
    "gpt_neox": Family(
        qkv_bias=("attention_bias", True), o_bias=("attention_bias", True), mlp="plain", mlp_bias=True, norm_bias=True
    ),
    "gptj": Family(mlp="plain", mlp_bias=True, norm_bias=True, layer_norms=1, lm_head_bias=True),
    "opt": Family(
        tie_default=True,
        qkv_bias=("enable_bias", True),
        o_bias=("enable_bias", True),
        mlp="plain",
        mlp_bias=("enable_bias", True),
        norm_bias=True,
    ),
    "falcon": Family(tie_default=True, qkv_bias=("bias", False), o_bias=("bias", False), mlp="plain", mlp_bias=("bias", False), norm_bias=True),
    "starcoder2": Family(
        tie_default=True,
        qkv_bias=("use_bias", True),
        o_bias=("use_bias", True),
        mlp="plain",
        mlp_bias=("use_bias", True),
        norm_bias=True,
        sliding="all",
    ),
    "olmo2": Family(qkv_bias=("attention_bias", False), o_bias=("attention_bias", False), qk_norm="all_heads"),
    "dbrx": Family(moe="dbrx"),
    "deepseek_v2": Family(
        mla=True,
        moe="deepseek",
        mlp_bias=("mlp_bias", False),
        defaults={
            "first_k_dense_replace": 0,
            "n_shared_experts": 2,
            "n_routed_experts": 64,
            "moe_intermediate_size": 1407,
            "q_lora_rank": 1536,
        },
    ),
    "deepseek_v3": Family(
        mla=True,
        moe="deepseek",
        defaults={
            "first_k_dense_replace": 3,
            "n_shared_experts": 1,
            "n_routed_experts": 256,
            "num_experts_per_tok": 8,
            "moe_intermediate_size": 2048,
            "q_lora_rank": 1536,
        },
    ),
    "gpt_oss": Family(
        qkv_bias=("attention_bias", True),
        o_bias=("attention_bias", True),
        moe="gpt_oss",
        sliding="alternate",
        defaults={"head_dim": 64, "sliding_window": 128, "num_local_experts": 128, "num_experts_per_tok": 4},
    ),
    "llama4_text": Family(
        qkv_bias=("attention_bias", False),
        o_bias=("attention_bias", False),
        moe="llama4",
        defaults={
            "head_dim": 128,
            "num_local_experts": 16,
            "num_experts_per_tok": 1,
            "interleave_moe_layer_step": 1,
            "intermediate_size_mlp": 16384,
        },
    ),
}
# NOTE: Kimi K2 ships remote code that is DeepSeek-V3's modeling file under another model_type.
FAMILIES["kimi_k2"] = FAMILIES["deepseek_v3"]
# NOTE: wrappers whose text_config has no model_type of its own: the text model's type.
_TEXT_MODEL_TYPES = {"gemma3": "gemma3_text", "llama4": "llama4_text", "mistral3": "mistral", "llava": "llama"}
# NOTE: Gemma 3's published multimodal configs leave most of text_config to Gemma3TextConfig's defaults
# (transformers 5.24.0), e.g. google/gemma-3-4b-it gives only hidden_size, intermediate_size, layers.
_TEXT_CONFIG_DEFAULTS = {
    "gemma3_text": {
        "vocab_size": 262208,
        "hidden_size": 2304,
        "intermediate_size": 9216,
        "num_hidden_layers": 26,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
        "head_dim": 256,
        "max_position_embeddings": 131072,
    },
}
# An unknown model_type is sized as a llama-like decoder and marked approximate.
_GENERIC = _LLAMA

# Config keys, in the order families spell them.
_HIDDEN = ("hidden_size", "n_embd", "d_model", "n_embed")
_LAYERS = ("num_hidden_layers", "n_layer", "n_layers", "num_layers")
_HEADS = ("num_attention_heads", "n_head", "n_heads")
_KV_HEADS = ("num_key_value_heads", "num_kv_heads", "n_head_kv", "multi_query_group_num")
_VOCAB = ("vocab_size", "padded_vocab_size")
_INTERMEDIATE = ("intermediate_size", "ffn_dim", "ffn_hidden_size", "n_inner")
_MAX_POSITIONS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length")


def _missing(field_name: str) -> ConfigError:
    return ConfigError(
        f"config.json has no {field_name}: give the model's full config.json, or a parameter count like 7B"
    )


class _Config:
    """A config dict with the family's defaults behind it."""

    def __init__(self, raw: Mapping, family: Family):
        self.raw = raw
        self.family = family

    def get(self, key: str, default: Any = None) -> Any:
        # NOTE: like transformers' config classes: an absent key takes the family's default, an
        # explicit null stays null (DeepSeek-V2-Lite's "q_lora_rank": null means no q compression).
        if key in self.raw:
            return self.raw[key]
        return self.family.defaults.get(key, default)

    def first(self, keys: tuple[str, ...], default: Any = None) -> Any:
        for key in keys:
            if self.raw.get(key) is not None:
                return self.raw[key]
        return default

    def required(self, keys: tuple[str, ...]) -> int:
        value = self.first(keys)
        if value is None:
            alternatives = f" (or {'/'.join(keys[1:])})" if len(keys) > 1 else ""
            raise _missing(keys[0] + alternatives)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"config.json has {keys[0]}={value!r}, not a positive integer: fix the config.json")
        return value

    def flag(self, flag: Any) -> bool:
        if isinstance(flag, tuple):
            key, default = flag
            value = self.raw.get(key)
            return default if value is None else bool(value)
        return bool(flag)


# ----------------------------------------------------------------------------- the shared helpers


def _attention(h: int, heads: int, kv_heads: int, head_dim: int, qkv_bias: bool, o_bias: bool) -> Counter:
    """q/k/v/o projections (fused or not, the count is the same)."""
    q, kv = heads * head_dim, kv_heads * head_dim
    return Counter(
        attention_qo=h * q + (q if qkv_bias else 0) + q * h + (h if o_bias else 0),
        attention_kv=2 * (h * kv + (kv if qkv_bias else 0)),
    )


def _mla_attention(h: int, heads: int, cfg: _Config, bias: bool) -> Counter:
    """DeepSeek multi-head latent attention: low-rank q (optional) and kv projections."""
    q_lora, kv_lora = cfg.get("q_lora_rank"), cfg.required(("kv_lora_rank",))
    nope, rope = cfg.required(("qk_nope_head_dim",)), cfg.required(("qk_rope_head_dim",))
    v_dim = cfg.required(("v_head_dim",))
    q_out = heads * (nope + rope)
    part = Counter()
    if q_lora:
        part["attention_replicated"] += h * q_lora + (q_lora if bias else 0)
        part["norms"] += q_lora
        part["attention_qo"] += q_lora * q_out
    else:
        part["attention_qo"] += h * q_out
    part["attention_replicated"] += h * (kv_lora + rope) + ((kv_lora + rope) if bias else 0)
    part["norms"] += kv_lora
    # NOTE: kv_b_proj is split by heads under tensor parallelism, like k/v projections.
    part["attention_kv"] += kv_lora * heads * (nope + v_dim)
    part["attention_qo"] += heads * v_dim * h + (h if bias else 0)
    return part


def _mlp(h: int, inner: int, kind: str, bias: bool) -> int:
    """A dense feed-forward block: gated (gate, up, down) or plain (up, down)."""
    if kind == "gated":
        return 3 * h * inner + ((2 * inner + h) if bias else 0)
    return 2 * h * inner + ((inner + h) if bias else 0)


def _norm(size: int, bias: bool) -> int:
    return 2 * size if bias else size


@dataclass(frozen=True)
class _Moe:
    """One MoE layer: its parameter groups and how many routed parameters one token uses."""

    part: Counter
    active_experts: int


def _moe_layers(cfg: _Config, layers: int) -> list[bool]:
    """Which decoder layers have an MoE feed-forward, as transformers builds them."""
    kind = cfg.family.moe
    if kind in ("qwen2_moe", "qwen3_moe"):
        step = cfg.get("decoder_sparse_step") or 1
        dense = set(cfg.get("mlp_only_layers") or ())
        return [i not in dense and (i + 1) % step == 0 for i in range(layers)]
    if kind == "deepseek":
        # NOTE: transformers (5.24) makes every layer from first_k_dense_replace on MoE and ignores
        # moe_layer_freq (1 in every published DeepSeek config).
        first = cfg.get("first_k_dense_replace") or 0
        return [i >= first for i in range(layers)]
    if kind == "llama4":
        listed = cfg.raw.get("moe_layers")
        if listed is None:
            step = cfg.get("interleave_moe_layer_step") or 1
            listed = range(step - 1, layers, step)
        return [i in set(listed) for i in range(layers)]
    return [bool(kind)] * layers


def _moe_block(h: int, cfg: _Config) -> _Moe:
    """One MoE feed-forward: router, routed experts, shared experts."""
    kind = cfg.family.moe
    experts, top_k, inner = _moe_shape(cfg)
    per_expert = 3 * h * inner
    part = Counter(router=h * experts)
    if kind == "gpt_oss":
        per_expert += 2 * inner + h  # gate_up and down biases
        part["router"] += experts  # router bias
    if kind == "deepseek":
        shared_inner = inner * (cfg.get("n_shared_experts") or 0)
        # NOTE: mlp_bias (DeepSeek-V2) reaches the shared experts only, not the fused routed ones.
        part["shared_experts"] = _mlp(h, shared_inner, "gated", cfg.flag(cfg.family.mlp_bias)) if shared_inner else 0
    elif kind == "qwen2_moe":
        part["shared_experts"] = _mlp(h, cfg.get("shared_expert_intermediate_size"), "gated", False)
        part["router"] += h  # shared_expert_gate: Linear(hidden, 1)
    elif kind == "llama4":
        part["shared_experts"] = _mlp(h, inner, "gated", False)
    part["experts"] = experts * per_expert
    return _Moe(part, top_k * per_expert)


def _moe_shape(cfg: _Config) -> tuple[int, int, int]:
    """(experts, experts per token, expert intermediate size) for the family's MoE layout."""
    kind = cfg.family.moe
    if kind == "dbrx":
        ffn = cfg.raw.get("ffn_config") or {}
        return ffn.get("moe_num_experts", 4), ffn.get("moe_top_k", 1), ffn.get("ffn_hidden_size", 3584)
    if kind == "deepseek":
        experts = cfg.get("n_routed_experts")
    elif kind in ("qwen2_moe", "qwen3_moe"):
        experts = cfg.get("num_experts")
    else:
        experts = cfg.get("num_local_experts")
    top_k = cfg.get("num_experts_per_tok") or cfg.get("experts_per_token")
    if kind in ("mixtral", "gpt_oss", "llama4"):
        inner = cfg.required(("intermediate_size",))
    else:
        inner = cfg.get("moe_intermediate_size")
    if not experts or not top_k or not inner:
        raise _missing("num_experts / num_experts_per_tok / moe_intermediate_size")
    return experts, top_k, inner


# ----------------------------------------------------------------------------- shape and layout


@dataclass(frozen=True)
class _Shape:
    hidden: int
    layers: int
    heads: int
    kv_heads: int  # as the KV cache sees it (1 for multi-query attention)
    head_dim: int
    intermediate: int | None
    vocab: int


def _read_shape(model_type: str | None, cfg: _Config) -> _Shape:
    if model_type == "dbrx":
        attn = cfg.raw.get("attn_config") or {}
        ffn = cfg.raw.get("ffn_config") or {}
        hidden, heads = cfg.required(_HIDDEN), cfg.required(_HEADS)
        return _Shape(
            hidden, cfg.required(_LAYERS), heads, attn.get("kv_n_heads", 1), hidden // heads,
            ffn.get("ffn_hidden_size", 3584), cfg.required(_VOCAB),
        )  # fmt: skip
    hidden = cfg.required(_HIDDEN)
    layers = cfg.required(_LAYERS)
    heads = cfg.required(_HEADS)
    vocab = cfg.required(_VOCAB)
    kv_heads = cfg.first(_KV_HEADS) or heads
    if model_type == "falcon" and not cfg.raw.get("new_decoder_architecture"):
        # NOTE: only Falcon's new decoder architecture reads num_kv_heads; the old one is
        # multi-query (one KV head, the default) or plain multi-head.
        kv_heads = 1 if cfg.raw.get("multi_query", True) else heads
    if model_type in ("gpt2", "gptj", "gpt_neox", "opt"):
        kv_heads = heads  # NOTE: no grouped-query attention in these families
    head_dim = cfg.get("head_dim") or hidden // heads
    if model_type in ("gpt2", "gptj", "falcon", "dbrx", "gpt_neox", "opt"):
        head_dim = hidden // heads  # NOTE: these families derive head_dim, whatever the config says
    intermediate = cfg.first(_INTERMEDIATE)
    if intermediate is None and model_type in ("gpt2", "gptj", "falcon"):
        intermediate = 4 * hidden
    return _Shape(hidden, layers, heads, kv_heads, head_dim, intermediate, vocab)


def _layer_types(cfg: _Config, layers: int) -> tuple[tuple[str, ...], int | None]:
    """Per-layer attention kinds as transformers builds them, and the window when any slides."""
    window = cfg.get("sliding_window")
    kind = cfg.family.sliding
    explicit = cfg.raw.get("layer_types")
    if explicit is not None and len(explicit) == layers:
        # NOTE: llama4's "chunked_attention" counts as full: vLLM keeps a full KV cache for it by default.
        types = [SLIDING_ATTENTION if t == SLIDING_ATTENTION else FULL_ATTENTION for t in explicit]
    elif kind == "all":
        types = [SLIDING_ATTENTION if window else FULL_ATTENTION] * layers
    elif kind == "all_if_enabled":
        types = [SLIDING_ATTENTION if window and cfg.raw.get("use_sliding_window") else FULL_ATTENTION] * layers
    elif kind == "qwen2":
        on = bool(window and cfg.raw.get("use_sliding_window"))
        first = cfg.raw.get("max_window_layers", 28)
        types = [SLIDING_ATTENTION if on and i >= first else FULL_ATTENTION for i in range(layers)]
    elif kind == "qwen2_moe":
        on = bool(window and cfg.raw.get("use_sliding_window"))
        last = cfg.raw.get("max_window_layers", 28)
        types = [SLIDING_ATTENTION if on and (i + 1) % 2 and i < last else FULL_ATTENTION for i in range(layers)]
    elif kind == "alternate":
        types = [SLIDING_ATTENTION if (i + 1) % 2 else FULL_ATTENTION for i in range(layers)]
    elif kind == "gemma3":
        pattern = cfg.raw.get("sliding_window_pattern") or 6
        types = [SLIDING_ATTENTION if (i + 1) % pattern else FULL_ATTENTION for i in range(layers)]
    else:
        types = [FULL_ATTENTION] * layers
    return tuple(types), (window if SLIDING_ATTENTION in types else None)


# ----------------------------------------------------------------------------- per family quirks


def _falcon_layer_norms(cfg: _Config) -> int:
    """Falcon: two norms in a serial block or with num_ln_in_parallel_attn=2 (the new architecture's default)."""
    if not cfg.raw.get("parallel_attn", True):
        return 2
    parallel_norms = cfg.raw.get("num_ln_in_parallel_attn")
    if parallel_norms is None and cfg.raw.get("new_decoder_architecture"):
        parallel_norms = 2
    return 2 if parallel_norms == 2 else 1


def _attention_part(model_type: str | None, cfg: _Config, shape: _Shape) -> Counter:
    fam = cfg.family
    h = shape.hidden
    if fam.mla:
        return _mla_attention(h, shape.heads, cfg, cfg.flag(("attention_bias", False)))
    part = _attention(h, shape.heads, shape.kv_heads, shape.head_dim, cfg.flag(fam.qkv_bias), cfg.flag(fam.o_bias))
    if fam.qk_norm == "head":
        part["norms"] += 2 * shape.head_dim
    elif fam.qk_norm == "all_heads":
        part["norms"] += (shape.heads + shape.kv_heads) * shape.head_dim
    if model_type == "phi" and cfg.raw.get("qk_layernorm"):
        part["norms"] += 2 * _norm(h // shape.heads, True)
    if model_type == "gpt_oss":
        part["other"] += shape.heads  # attention sinks
    return part


def _decoder_layer(model_type: str | None, cfg: _Config, shape: _Shape, moe: bool) -> tuple[Counter, int]:
    """One decoder block's parameter groups, and the routed-expert parameters one token uses in it."""
    fam = cfg.family
    h = shape.hidden
    part = _attention_part(model_type, cfg, shape)
    norms = _falcon_layer_norms(cfg) if model_type == "falcon" else fam.layer_norms
    affine = model_type != "opt" or cfg.raw.get("layer_norm_elementwise_affine", True)
    part["norms"] += norms * _norm(h, fam.norm_bias) if affine else 0

    if moe:
        block = _moe_block(h, cfg)
        part.update(block.part)
        return part, block.active_experts
    inner = cfg.get("intermediate_size_mlp") if fam.moe == "llama4" else shape.intermediate
    if not inner:
        raise _missing("intermediate_size")
    part["mlp"] += _mlp(h, inner, fam.mlp, cfg.flag(fam.mlp_bias))
    return part, 0


def _outer_part(model_type: str | None, cfg: _Config, shape: _Shape, tied: bool) -> Counter:
    """Embeddings, final norm and LM head."""
    fam = cfg.family
    h, vocab = shape.hidden, shape.vocab
    part = Counter(norms=_norm(h, fam.norm_bias))
    embed_dim = h
    if model_type == "gpt2":
        part["position_embedding"] = cfg.required(("n_positions", "max_position_embeddings")) * h
    elif model_type == "opt":
        embed_dim = cfg.raw.get("word_embed_proj_dim") or h
        # NOTE: OPT's learned positions keep 2 extra rows (an offset from fairseq).
        part["position_embedding"] = (cfg.required(_MAX_POSITIONS) + 2) * h
        if embed_dim != h:
            part["other"] += 2 * embed_dim * h  # project_in and project_out
        keeps_final_norm = cfg.raw.get("do_layer_norm_before", True) and not cfg.raw.get("_remove_final_layer_norm")
        affine = cfg.raw.get("layer_norm_elementwise_affine", True)
        part["norms"] = _norm(h, True) if keeps_final_norm and affine else 0
    part["embedding"] = vocab * embed_dim
    part["lm_head"] = (0 if tied else vocab * embed_dim) + (vocab if fam.lm_head_bias else 0)
    return part


# ----------------------------------------------------------------------------- the entry point


def spec_from_config(config: Mapping, name: str | None = None) -> ModelSpec:
    """Describe the model a config.json defines, with transformers' exact parameter count.

    A multimodal or wrapper config (one with a `text_config`: Gemma 3, Llama 4, Mistral 3, LLaVA ...)
    is sized as its text model only: the causal LM transformers builds from `text_config`; the vision
    tower and projector are not counted.
    """
    if not isinstance(config, Mapping):
        raise ConfigError("config.json must hold a JSON object: give the model's config.json")
    if multimodal_type(config):  # vision tower + projector on top of the text model (llmmem/multimodal.py)
        return multimodal_spec(config, spec_from_config, name)
    if is_encoder(config):  # BERT, RoBERTa, T5, ViT (llmmem/encoders.py)
        return encoder_spec(config, name)
    outer = config
    text = config.get("text_config")
    if isinstance(text, Mapping):
        # NOTE: a multimodal wrapper: size its text model (the causal LM transformers builds from
        # text_config, with that config class's defaults); the vision tower is not counted.
        text_type = text.get("model_type") or _TEXT_MODEL_TYPES.get(config.get("model_type"))
        raw = {**_TEXT_CONFIG_DEFAULTS.get(text_type, {}), **text, "model_type": text_type}
        if raw.get("tie_word_embeddings") is None and config.get("tie_word_embeddings") is not None:
            raw["tie_word_embeddings"] = config["tie_word_embeddings"]
    else:
        raw = dict(config)
    model_type = raw.get("model_type")
    family = FAMILIES.get(model_type)
    approximate = family is None
    cfg = _Config(raw, family or _GENERIC)
    family = cfg.family
    family_type = None if approximate else model_type  # the generic fallback has no family quirks
    shape = _read_shape(family_type, cfg)

    tied = raw.get("tie_word_embeddings")
    tied = family.tie_default if tied is None else bool(tied)

    total = _outer_part(family_type, cfg, shape, tied)
    largest_block = 0
    active_experts = 0
    moe_layers = _moe_layers(cfg, shape.layers)
    # NOTE: decoder layers come in at most two kinds (dense, MoE): size each kind once.
    for moe in set(moe_layers):
        repeats = moe_layers.count(moe)
        part, active = _decoder_layer(family_type, cfg, shape, moe)
        largest_block = max(largest_block, sum(part.values()))
        total.update({key: count * repeats for key, count in part.items()})
        active_experts += active * repeats

    breakdown = {key: total[key] for key in BREAKDOWN_KEYS if total[key]}
    parameters = sum(breakdown.values())
    active_parameters = None
    if family.moe and breakdown.get("experts"):
        active_parameters = parameters - breakdown["experts"] + active_experts

    layer_types, window = _layer_types(cfg, shape.layers)
    experts = top_k = moe_inner = None
    if family.moe:
        experts, top_k, moe_inner = _moe_shape(cfg)
    # Leading dense layers (DeepSeek's first_k_dense_replace, Llama 4 Maverick's layer 0).
    dense_layers = moe_layers.index(True) if True in moe_layers else None

    return ModelSpec(
        name=name or outer.get("_name_or_path") or raw.get("_name_or_path") or str(model_type or "unknown model"),
        parameters=parameters,
        model_type=model_type,
        active_parameters=active_parameters,
        approximate=approximate,
        breakdown=breakdown,
        largest_layer_parameters=max(largest_block, breakdown.get("embedding", 0)),
        num_layers=shape.layers,
        hidden_size=shape.hidden,
        vocab_size=shape.vocab,
        num_attention_heads=shape.heads,
        num_kv_heads=shape.kv_heads,
        head_dim=(cfg.get("qk_nope_head_dim") + cfg.get("qk_rope_head_dim")) if family.mla else shape.head_dim,
        v_head_dim=cfg.get("v_head_dim") if family.mla else None,
        intermediate_size=shape.intermediate,
        max_position_embeddings=cfg.first(_MAX_POSITIONS),
        num_experts=experts,
        experts_per_token=top_k,
        moe_intermediate_size=moe_inner,
        num_shared_experts=_shared_experts(cfg) if family.moe else None,
        num_dense_layers=dense_layers,
        kv_lora_rank=cfg.get("kv_lora_rank") if family.mla else None,
        qk_rope_head_dim=cfg.get("qk_rope_head_dim") if family.mla else None,
        layer_types=layer_types,
        sliding_window=window,
        tie_word_embeddings=tied,
        torch_dtype=_dtype(outer, raw),
        quantization=outer.get("quantization_config") or raw.get("quantization_config"),
    )


def _shared_experts(cfg: _Config) -> int:
    kind = cfg.family.moe
    if kind == "deepseek":
        return cfg.get("n_shared_experts") or 0
    return 1 if kind in ("qwen2_moe", "llama4") else 0


def _dtype(outer: Mapping, raw: Mapping) -> str | None:
    for source in (outer, raw):
        for key in ("torch_dtype", "dtype"):
            if isinstance(source.get(key), str):
                return source[key]
    return None
