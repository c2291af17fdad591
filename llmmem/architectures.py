"""config.json -> ModelSpec, with the exact parameter count transformers allocates for it.

Every family is one row of `FAMILIES` (llmmem/families.py): flags that say which biases, norms, MLP and MoE layout its
decoder layers have, and, for hybrids, which token mixer each layer uses (attention, or a fixed-state
mixer from llmmem.state_mixers: Mamba, Mamba-2, gated delta-net, short conv). A handful of helpers
(attention, MLA attention, MLP, MoE, norms, mixers) turn those flags into parameter groups
(spec.BREAKDOWN_KEYS), one kind of decoder layer at a time.

Counts follow the causal-LM classes of transformers 5.24.0 (model built on the meta device, tied
tensors counted once, buffers not counted). Checked to the unit against that version for every
family here; see tests/test_architectures.py.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Mapping

from llmmem import state_mixers
from llmmem.config_check import (
    HEADS_KEYS,
    HIDDEN_KEYS,
    LAYERS_KEYS,
    DefaultedConfig,
    check_config,
    config_dtype,
    missing,
    positive_int,
)
from llmmem.config_check import flag as config_flag
from llmmem.encoders import encoder_spec, is_encoder
from llmmem.errors import ConfigError
from llmmem.families import COUNTED_AS, FAMILIES, TEXT_CONFIG_DEFAULTS, Family
from llmmem.layer_sizes import mlp as _mlp, norm as _norm
from llmmem.multimodal import multimodal_spec, multimodal_type
from llmmem.spec import (
    BREAKDOWN_KEYS,
    CHUNKED_ATTENTION,
    COUNTED_EXACT,
    COUNTED_GENERIC,
    FFN_DENSE,
    FFN_MOE,
    FULL_ATTENTION,
    LINEAR_ATTENTION,
    MAMBA,
    NO_CACHE,
    SHORT_CONV,
    SLIDING_ATTENTION,
    ModelSpec,
)


# Config keys, in the order families spell them (hidden size, layers and heads: config_check's).
_KV_HEADS = ("num_key_value_heads", "num_kv_heads", "n_head_kv", "multi_query_group_num")
_VOCAB = ("vocab_size", "padded_vocab_size")
_INTERMEDIATE = ("intermediate_size", "ffn_dim", "ffn_hidden_size", "n_inner")
_MAX_POSITIONS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length")


class _Config(DefaultedConfig):
    """A config dict with the family's defaults behind it."""

    def __init__(self, raw: Mapping, family: Family):
        super().__init__(raw, family.defaults)
        self.family = family

    def first(self, keys: tuple[str, ...], default: Any = None) -> Any:
        for key in keys:
            if self.raw.get(key) is not None:
                return self.raw[key]
        return default

    def required(self, keys: tuple[str, ...]) -> int:
        value = self.first(keys)
        if value is None:
            alternatives = f" (or {'/'.join(keys[1:])})" if len(keys) > 1 else ""
            raise missing(keys[0] + alternatives)
        return positive_int(keys[0], value)

    def flag(self, flag: Any) -> bool:
        if isinstance(flag, tuple):
            key, default = flag
            return config_flag(self.raw.get(key), default)
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


@dataclass(frozen=True)
class _Moe:
    """One MoE layer: its parameter groups, and the parameters of one routed expert."""

    part: Counter
    per_expert: int


def _moe_layers(cfg: _Config, layers: int) -> list[bool]:
    """Which decoder layers have an MoE feed-forward, as transformers builds them."""
    kind = cfg.family.moe
    if kind in ("qwen2_moe", "qwen3_moe"):
        step = cfg.get("decoder_sparse_step") or 1
        dense = set(cfg.get("mlp_only_layers") or ())
        experts = cfg.get("num_experts")
        return [i not in dense and (i + 1) % step == 0 and bool(experts) for i in range(layers)]
    if kind == "deepseek":
        listed = cfg.raw.get("mlp_layer_types")
        if isinstance(listed, list) and len(listed) == layers:
            return [t == "sparse" for t in listed]  # DeepSeek-V3.2's explicit per-layer list
        # NOTE: transformers (5.24) makes every layer from first_k_dense_replace on MoE and ignores
        # moe_layer_freq (1 in every published DeepSeek config).
        first = cfg.get("first_k_dense_replace") or 0
        return [i >= first for i in range(layers)]
    if kind == "llama4":
        listed = cfg.raw.get("moe_layers")
        if listed is None:
            step = cfg.get("interleave_moe_layer_step") or 1
            listed = range(step - 1, layers, step)
        moe = set(listed)
        return [i in moe for i in range(layers)]
    if kind == "jamba":
        period, offset = _period(cfg, "expert_layer_period", "expert_layer_offset")
        experts = cfg.get("num_experts") or 1
        return [experts > 1 and i % period == offset for i in range(layers)]
    if kind == "ernie":
        interval, start = cfg.get("moe_layer_interval") or 1, cfg.get("moe_layer_start_index") or 0
        end = cfg.get("moe_layer_end_index")
        end = layers - 1 if end is None or end == -1 else end
        return [(i + 1) % interval == 0 and start <= i <= end for i in range(layers)]
    if kind == "lfm2_moe":
        dense = cfg.get("num_dense_layers") or 0
        return [i >= dense for i in range(layers)]
    return [bool(kind)] * layers


def _period(cfg: _Config, period_key: str, offset_key: str) -> tuple[int, int]:
    """Jamba's "every period-th layer from offset": a positive period and an offset below it."""
    period = positive_int(period_key, cfg.get(period_key))
    offset = cfg.get(offset_key)
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < period:
        raise ConfigError(f"config.json has {offset_key}={offset!r}, expected 0 to {period - 1} ({period_key} - 1): fix the config.json")
    return period, offset


def _moe_block(h: int, cfg: _Config) -> _Moe:
    """One MoE feed-forward: router, routed experts, shared experts."""
    kind = cfg.family.moe
    experts, _, inner = _moe_shape(cfg)
    per_expert = 3 * h * inner
    part = Counter(router=h * experts)
    if kind == "gpt_oss":
        per_expert += 2 * inner + h  # gate_up and down biases
        part["router"] += experts  # router bias
    if kind == "deepseek":
        shared_inner = inner * (cfg.get("n_shared_experts") or 0)
        # NOTE: mlp_bias (DeepSeek-V2) reaches the shared experts only, not the fused routed ones.
        part["shared_experts"] = _mlp(h, shared_inner, "gated", cfg.flag(cfg.family.mlp_bias)) if shared_inner else 0
    elif kind in ("qwen2_moe", "qwen3_5_moe"):
        shared = positive_int("shared_expert_intermediate_size", cfg.get("shared_expert_intermediate_size"))
        part["shared_experts"] = _mlp(h, shared, "gated", False)
        part["router"] += h  # shared_expert_gate: Linear(hidden, 1)
    elif kind == "llama4":
        part["shared_experts"] = _mlp(h, inner, "gated", False)
    elif kind == "ernie":
        part["router"] += experts  # e_score_correction_bias, a Parameter here (a buffer elsewhere)
        shared = cfg.get("moe_num_shared_experts") or 0
        if shared > 0:
            part["shared_experts"] = _mlp(h, inner * shared, "gated", cfg.flag(cfg.family.mlp_bias))
    elif kind == "hunyuan":
        part["shared_experts"] = _mlp(h, inner, "gated", False)  # shared_mlp: intermediate_size, always there
    elif kind == "nemotron_h":
        # NOTE: non-gated experts (up, down) on the latent width when moe_latent_size is set.
        latent = cfg.get("moe_latent_size")
        per_expert = 2 * (latent or h) * inner
        bias = cfg.flag(cfg.family.mlp_bias)
        shared = _mlp(h, positive_int("moe_shared_expert_intermediate_size", cfg.get("moe_shared_expert_intermediate_size")), "plain", bias)
        if latent:
            shared += 2 * h * latent + ((latent + h) if bias else 0)  # fc1/fc2 latent projections
        part["shared_experts"] = shared
    part["experts"] = experts * per_expert
    return _Moe(part, per_expert)


def _moe_shape(cfg: _Config) -> tuple[int, int, int]:
    """(experts, experts per token, expert intermediate size) for the family's MoE layout."""
    kind = cfg.family.moe
    if kind == "dbrx":
        ffn = cfg.raw.get("ffn_config") or {}
        return ffn.get("moe_num_experts", 4), ffn.get("moe_top_k", 1), ffn.get("ffn_hidden_size", 3584)
    if kind in ("deepseek", "nemotron_h"):
        experts = cfg.first(("n_routed_experts", "num_local_experts"), cfg.get("n_routed_experts"))
    elif kind in ("qwen2_moe", "qwen3_moe", "qwen3_5_moe", "jamba", "lfm2_moe"):
        experts = cfg.get("num_experts")
    elif kind == "ernie":
        experts = cfg.first(("moe_num_experts", "num_experts"), cfg.get("moe_num_experts"))
    elif kind == "hunyuan":
        experts = cfg.first(("num_experts", "num_local_experts"), cfg.get("num_experts"))
        if isinstance(experts, list):
            raise ConfigError(
                "config.json gives num_experts per layer, which transformers 5.24 cannot build for hunyuan_v1_moe:"
                " give one number, or a parameter count like 70B"
            )
    else:
        experts = cfg.get("num_local_experts")
    top_k = _top_k(cfg, 0)
    if kind in ("mixtral", "gpt_oss", "llama4", "jamba", "hunyuan"):
        inner = cfg.required(("intermediate_size",))
    else:
        inner = cfg.get("moe_intermediate_size")
    if not experts or not top_k or not inner:
        raise missing("num_experts / num_experts_per_tok / moe_intermediate_size")
    return positive_int("num_experts", experts), positive_int("num_experts_per_tok", top_k), positive_int("moe_intermediate_size", inner)


def _top_k(cfg: _Config, layer: int) -> Any:
    """Experts each token goes through in `layer` (Hunyuan may give one number per layer)."""
    kind = cfg.family.moe
    if kind == "ernie":
        value = cfg.first(("moe_k", "num_experts_per_tok"), cfg.get("moe_k"))
    elif kind == "hunyuan":
        value = cfg.first(("moe_topk", "num_experts_per_tok"), cfg.get("moe_topk"))
    else:
        value = cfg.get("num_experts_per_tok") or cfg.get("experts_per_token")
    if isinstance(value, list):
        return value[layer] if layer < len(value) else None
    return value


# ----------------------------------------------------------------------------- shape and layout


@dataclass(frozen=True)
class _Shape:
    hidden: int
    layers: int
    heads: int | None  # None: no attention layer (pure SSM)
    kv_heads: int | None  # as the KV cache sees it (1 for multi-query attention)
    head_dim: int | None
    intermediate: int | None
    vocab: int


def _read_shape(model_type: str | None, cfg: _Config) -> _Shape:
    if model_type == "dbrx":
        attn = cfg.raw.get("attn_config") or {}
        ffn = cfg.raw.get("ffn_config") or {}
        hidden, heads = cfg.required(HIDDEN_KEYS), cfg.required(HEADS_KEYS)
        return _Shape(
            hidden, cfg.required(LAYERS_KEYS), heads, attn.get("kv_n_heads", 1), hidden // heads,
            ffn.get("ffn_hidden_size", 3584), cfg.required(_VOCAB),
        )  # fmt: skip
    hidden = cfg.required(HIDDEN_KEYS)
    # NOTE: Nemotron-H takes its depth from the block pattern, whatever num_hidden_layers says.
    layers = len(_nemotron_blocks(cfg)) if cfg.family.layout == "nemotron_h" else cfg.required(LAYERS_KEYS)
    vocab = cfg.required(_VOCAB)
    intermediate = cfg.first(_INTERMEDIATE)
    if intermediate is None:
        intermediate = cfg.family.defaults.get("intermediate_size")
    if model_type == "lfm2":
        intermediate = _lfm2_intermediate(cfg)
    if intermediate is None and model_type in ("gpt2", "gptj", "falcon"):
        intermediate = 4 * hidden
    if cfg.family.layout == "mamba":
        return _Shape(hidden, layers, None, None, None, intermediate, vocab)
    heads = cfg.required(HEADS_KEYS)
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
    return _Shape(hidden, layers, heads, kv_heads, head_dim, intermediate, vocab)


def _lfm2_intermediate(cfg: _Config) -> int:
    """Lfm2MLP's width: block_ff_dim (alias of intermediate_size), then LLaMA's 2/3 rule, the
    multiplier and rounding up to block_multiple_of when block_auto_adjust_ff_dim (the default)."""
    inner = cfg.raw.get("block_ff_dim", cfg.raw.get("intermediate_size", 12288))
    inner = positive_int("intermediate_size", inner)
    if cfg.flag(("block_auto_adjust_ff_dim", True)):
        inner = int(2 * inner / 3)
        multiplier = cfg.raw.get("block_ffn_dim_multiplier", 1.0)
        if multiplier is not None:
            multiple = positive_int("block_multiple_of", cfg.raw.get("block_multiple_of", 256))
            inner = int(multiplier * inner)
            inner = multiple * ((inner + multiple - 1) // multiple)
    return inner


def _attention_kinds(cfg: _Config, layers: int) -> tuple[list[str], int | None]:
    """Each layer's attention kind as transformers builds it (for the layers that attend), and the
    window when any slides."""
    window = cfg.get("sliding_window")
    kind = cfg.family.sliding
    explicit = cfg.raw.get("layer_types")
    known = {SLIDING_ATTENTION, CHUNKED_ATTENTION}
    if cfg.family.layout != "decoder":
        types = [FULL_ATTENTION] * layers  # NOTE: the hybrids here attend over the full context
    elif isinstance(explicit, list) and len(explicit) == layers:
        types = [t if t in known else FULL_ATTENTION for t in explicit]
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
        types = _pattern_types(cfg.raw.get("sliding_window_pattern") or 6, layers)
    elif kind == "smollm3":
        # NOTE: no_rope_layers[i] == 1 means layer i uses RoPE; the NoPE layers are the ones that may slide.
        rope = _rope_layers(cfg, layers)
        on = bool(window and cfg.raw.get("use_sliding_window"))
        types = [SLIDING_ATTENTION if on and not rope[i] else FULL_ATTENTION for i in range(layers)]
    elif kind == "exaone4":
        pattern = cfg.get("sliding_window_pattern")
        types = _pattern_types(pattern, layers) if window and pattern else [FULL_ATTENTION] * layers
    elif kind == "olmo3":
        types = [SLIDING_ATTENTION if (i + 1) % 4 else FULL_ATTENTION for i in range(layers)]
    elif cfg.family.moe == "llama4":
        chunk = cfg.get("attention_chunk_size", 8192)
        rope = _rope_layers(cfg, layers)
        types = [CHUNKED_ATTENTION if rope[i] and chunk is not None else FULL_ATTENTION for i in range(layers)]
    else:
        types = [FULL_ATTENTION] * layers
    return types, (window if SLIDING_ATTENTION in types else None)


def _pattern_types(pattern: Any, layers: int) -> list[str]:
    """sliding_window_pattern: every pattern-th layer is global (an int), or letters repeated per layer
    (a string like "LLLG": L local, G global, as vLLM reads EXAONE 4.0's; transformers needs layer_types then)."""
    if isinstance(pattern, str):
        if set(pattern) - {"L", "G"}:
            raise ConfigError(f"config.json has sliding_window_pattern={pattern[:20]!r}, expected a number or letters L and G: fix the config.json")
        return [SLIDING_ATTENTION if pattern[i % len(pattern)] == "L" else FULL_ATTENTION for i in range(layers)]
    return [SLIDING_ATTENTION if (i + 1) % pattern else FULL_ATTENTION for i in range(layers)]


def _rope_layers(cfg: _Config, layers: int) -> list[int]:
    """no_rope_layers as SmolLM3 and Llama 4 read it: 1 where the layer uses RoPE (every
    no_rope_layer_interval-th layer does not, by default)."""
    listed = cfg.raw.get("no_rope_layers")
    if isinstance(listed, list) and listed:
        if len(listed) != layers:
            raise ConfigError(f"config.json has no_rope_layers of {len(listed)} items for {layers} layers: fix the config.json")
        return listed
    interval = cfg.raw.get("no_rope_layer_interval") or 4
    return [int((i + 1) % interval != 0) for i in range(layers)]


# Token mixers of a layer (_layer_plan); "state" is the family's fixed-state mixer.
_ATTN, _STATE, _NONE = "attention", "state", "none"
# Feed-forward of a layer (spec.FFN_DENSE / FFN_MOE; _NONE is spec.FFN_NONE too).
_DENSE, _MOE = FFN_DENSE, FFN_MOE
_STATE_KIND = {
    state_mixers.MAMBA1: MAMBA,
    state_mixers.MAMBA2: MAMBA,
    state_mixers.GATED_DELTA_NET: LINEAR_ATTENTION,
    state_mixers.SHORT_CONV: SHORT_CONV,
}
# Nemotron-H block letters (hybrid_override_pattern) and legacy block names, as transformers maps them.
_NEMOTRON_LETTERS = {"M": "linear_attention", "E": "moe", "*": "full_attention", "-": "mlp"}
_NEMOTRON_LEGACY = {"mamba": "linear_attention", "attention": "full_attention"}


def _nemotron_blocks(cfg: _Config) -> list[str]:
    listed = cfg.raw.get("layers_block_type") or cfg.raw.get("layer_types")
    if isinstance(listed, list) and listed:
        blocks = [_NEMOTRON_LEGACY.get(b, b) for b in listed]
    elif isinstance(cfg.raw.get("hybrid_override_pattern"), str) and cfg.raw["hybrid_override_pattern"]:
        pattern = cfg.raw["hybrid_override_pattern"]
        unknown = sorted(set(pattern) - set(_NEMOTRON_LETTERS))
        if unknown:
            raise ConfigError(f"hybrid_override_pattern has unknown blocks {unknown}: use M, E, * or -")
        blocks = [_NEMOTRON_LETTERS[c] for c in pattern]
    else:
        blocks = ["linear_attention", "moe", "full_attention", "mlp"]  # NemotronHConfig's default
    unknown = sorted(set(blocks) - set(_NEMOTRON_LETTERS.values()))
    if unknown:
        raise ConfigError(f"nemotron_h layer types {unknown} are not mlp, moe, full_attention or linear_attention")
    return blocks


def _layer_plan(cfg: _Config, layers: int) -> list[tuple[str, str]]:
    """(token mixer, feed-forward) of each decoder layer, as transformers builds them."""
    layout = cfg.family.layout
    if layout == "mamba":
        return [(_STATE, _NONE)] * layers
    if layout == "nemotron_h":
        by_block = {"linear_attention": (_STATE, _NONE), "full_attention": (_ATTN, _NONE), "mlp": (_NONE, _DENSE), "moe": (_NONE, _MOE)}
        return [by_block[b] for b in _nemotron_blocks(cfg)]
    ffn = [_MOE if m else _DENSE for m in _moe_layers(cfg, layers)]
    if layout == "decoder":
        return [(_ATTN, f) for f in ffn]
    if layout == "jamba":
        period, offset = _period(cfg, "attn_layer_period", "attn_layer_offset")
        return [(_ATTN if i % period == offset else _STATE, ffn[i]) for i in range(layers)]
    listed = cfg.raw.get("layer_types")
    if layout == "lfm2":
        if not (isinstance(listed, list) and len(listed) == layers):
            if cfg.family.moe:
                raise missing("layer_types (LFM2-MoE names each layer conv or full_attention)")
            full = cfg.raw.get("full_attn_idxs")
            full = set(range(layers) if full is None else full)
            listed = [FULL_ATTENTION if i in full else "conv" for i in range(layers)]
        # NOTE: Lfm2DecoderLayer attends unless the layer type is "conv".
        return [(_STATE if t == "conv" else _ATTN, ffn[i]) for i, t in enumerate(listed)]
    # layout "layer_types": Qwen3-Next / Qwen3.5, linear attention except every full_attention_interval-th layer
    if not (isinstance(listed, list) and len(listed) == layers):
        interval = positive_int("full_attention_interval", cfg.get("full_attention_interval"))
        listed = ["linear_attention" if (i + 1) % interval else FULL_ATTENTION for i in range(layers)]
    return [(_STATE if t == "linear_attention" else _ATTN, ffn[i]) for i, t in enumerate(listed)]


# ----------------------------------------------------------------------------- per family quirks


def _falcon_layer_norms(cfg: _Config) -> int:
    """Falcon: two norms in a serial block or with num_ln_in_parallel_attn=2 (the new architecture's default)."""
    if not cfg.raw.get("parallel_attn", True):
        return 2
    parallel_norms = cfg.raw.get("num_ln_in_parallel_attn")
    if parallel_norms is None and cfg.raw.get("new_decoder_architecture"):
        parallel_norms = 2
    return 2 if parallel_norms == 2 else 1


def _indexer(h: int, cfg: _Config) -> Counter:
    """DeepSeek-V3.2's indexer: wq_b (from the q latent), wk, weights_proj, and k_norm (a LayerNorm)."""
    q_lora = cfg.get("q_lora_rank")
    if not q_lora:
        raise missing("q_lora_rank (DeepSeek-V3.2's indexer reads the q latent)")
    heads = positive_int("index_n_heads", cfg.get("index_n_heads"))
    dim = positive_int("index_head_dim", cfg.get("index_head_dim"))
    return Counter(attention_replicated=q_lora * heads * dim + h * dim + h * heads, norms=_norm(dim, True))


def _attention_part(model_type: str | None, cfg: _Config, shape: _Shape) -> Counter:
    fam = cfg.family
    h = shape.hidden
    if fam.mla:
        part = _mla_attention(h, shape.heads, cfg, cfg.flag(("attention_bias", False)))
        if fam.indexer:
            part.update(_indexer(h, cfg))
        return part
    part = _attention(h, shape.heads, shape.kv_heads, shape.head_dim, cfg.flag(fam.qkv_bias), cfg.flag(fam.o_bias))
    if fam.attention_gate:
        q = shape.heads * shape.head_dim  # the gate half of q_proj
        part["attention_qo"] += h * q + (q if cfg.flag(fam.qkv_bias) else 0)
    if fam.qk_norm and cfg.flag(fam.qk_norm_flag):
        if fam.qk_norm == "head":
            part["norms"] += 2 * shape.head_dim
        else:  # "all_heads"
            part["norms"] += (shape.heads + shape.kv_heads) * shape.head_dim
    if model_type == "phi" and cfg.raw.get("qk_layernorm"):
        part["norms"] += 2 * _norm(h // shape.heads, True)
    if model_type == "gpt_oss":
        part["other"] += shape.heads  # attention sinks
    return part


def _decoder_layer(model_type: str | None, cfg: _Config, shape: _Shape, mixer: str, ffn: str) -> tuple[Counter, int]:
    """One decoder block's parameter groups, and the parameters of one routed expert (0: no MoE)."""
    fam = cfg.family
    h = shape.hidden
    if mixer == _ATTN:
        part = _attention_part(model_type, cfg, shape)
    elif mixer == _STATE:
        part = state_mixers.mixer_params(fam.state_mixer, model_type, cfg.get, h)
    else:
        part = Counter()
    norms = _falcon_layer_norms(cfg) if model_type == "falcon" else fam.layer_norms
    affine = model_type != "opt" or cfg.raw.get("layer_norm_elementwise_affine", True)
    part["norms"] += norms * _norm(h, fam.norm_bias) if affine else 0

    if ffn == _MOE:
        block = _moe_block(h, cfg)
        part.update(block.part)
        return part, block.per_expert
    if ffn == _DENSE:
        inner = cfg.get("intermediate_size_mlp") if fam.moe == "llama4" else shape.intermediate
        if not inner:
            raise missing("intermediate_size")
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
    # NOTE: a tied head still has its own bias when the family gives it one (ERNIE 4.5's use_bias).
    part["lm_head"] = (0 if tied else vocab * embed_dim) + (vocab if cfg.flag(fam.lm_head_bias) else 0)
    return part


# ----------------------------------------------------------------------------- MTP and notes


def _mtp(model_type: str | None, cfg: _Config, shape: _Shape, plan: list[tuple[str, str]]) -> tuple[int, int, list[str]]:
    """Multi-token-prediction layers the checkpoint ships and transformers does not build: how many,
    what they add to the checkpoint (0 when the layout is not modelled), and a note."""
    fam = cfg.family
    layers = 0
    for key in fam.mtp_keys:
        value = cfg.raw.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            layers = value
    if model_type == "minimax_m2" and cfg.raw.get("use_mtp") is False:
        layers = 0
    if model_type == "qwen3_next" and not layers:
        layers = 1  # NOTE: the checkpoint ships one MTP layer; vLLM's default when the config names none
    if not layers:
        return 0, 0, []
    h, vocab = shape.hidden, shape.vocab
    ffn = _MOE if any(f == _MOE for _, f in plan) else _DENSE
    block = sum(_decoder_layer(model_type, cfg, shape, _ATTN, ffn)[0].values())
    if fam.mtp_layout == "deepseek":
        # DeepSeek-V3's layout (README_WEIGHTS.md; vLLM deepseek_mtp.py, glm4_moe_mtp.py for GLM-4.5): enorm,
        # hnorm, eh_proj (2h -> h), one decoder block, shared_head.norm and shared_head.head, and its own
        # copy of embed_tokens.
        per_layer = block + 3 * h + 2 * h * h + 2 * vocab * h
    elif fam.mtp_layout == "qwen3_next":
        # Qwen3-Next / Qwen3.5 (vLLM qwen3_next_mtp.py): fc (2h -> h), pre_fc_norm_hidden,
        # pre_fc_norm_embedding, one full-attention block, norm; embeddings and head shared.
        per_layer = block + 2 * h * h + 3 * h
    else:
        per_layer = 0
    size = f" ({layers * per_layer:,} parameters)" if per_layer else ""
    note = (
        f"the checkpoint also ships {layers} multi-token-prediction layer{'s' if layers > 1 else ''}{size} that"
        " transformers does not build; the count is what transformers allocates, which is what serving loads"
        " unless speculative decoding uses them"
    )
    return layers, layers * per_layer, [note]


# ----------------------------------------------------------------------------- unknown families

# Config keys that show a layout the generic (llama-like) formula cannot count, by what they show.
_HIDDEN_FEATURES: dict[str, tuple[str, ...]] = {
    "experts": (
        "num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts", "num_experts_per_tok",
        "moe_intermediate_size", "moe_k", "moe_topk", "n_shared_experts", "expert_layer_period",
    ),
    "per-layer kinds": (
        "layer_types", "layers_block_type", "hybrid_override_pattern", "attn_layer_period", "full_attention_interval",
        "block_types", "layer_pattern",
    ),
    "SSM / linear-attention fields": (
        "state_size", "ssm_state_size", "mamba_d_state", "mamba_expand", "d_state", "conv_kernel", "linear_num_key_heads",
        "linear_key_head_dim", "conv_L_cache", "mamba_num_heads",
    ),
    "latent attention (MLA)": ("kv_lora_rank", "q_lora_rank"),
    "an encoder or vision layout": ("type_vocab_size", "patch_size", "image_size", "num_channels"),
    "sub-configs": ("vision_config", "audio_config", "encoder_config", "decoder_config", "llm_config", "language_config"),
}  # fmt: skip
_SUB_CONFIG_KEYS = _HIDDEN_FEATURES["sub-configs"]
_NOT_CAUSAL_HEADS = ("ForMaskedLM", "ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering", "ForImageClassification", "ForConditionalGeneration")
_GENERIC_TYPE = "llama"  # NOTE: the generic formula is the llama row, without any family quirk
EXTRA_NOTE = "pip install 'llmmem[transformers]' to count it exactly"
_ATTENTION_LAYER_KINDS = {FULL_ATTENTION, SLIDING_ATTENTION, CHUNKED_ATTENTION, "attention", "global", "local"}


def hidden_features(raw: Mapping) -> list[str]:
    """What an unknown family's config shows that the generic decoder formula cannot count."""
    seen = []
    for what, keys in _HIDDEN_FEATURES.items():
        present = [k for k in keys if raw.get(k) not in (None, False, 0, [], {}, "")]
        if what == "experts" and present and all(raw.get(k) == 1 for k in present if isinstance(raw.get(k), int)):
            present = []  # NOTE: one expert per token and no expert count: a dense model
        if what == "per-layer kinds" and present == ["layer_types"]:
            kinds = raw.get("layer_types")
            if isinstance(kinds, list) and set(kinds) <= _ATTENTION_LAYER_KINDS:
                present = []  # only full and sliding attention: the formula's count is unaffected
        if present:
            seen.append(f"{what} ({', '.join(present)})")
    if raw.get("is_encoder_decoder"):
        seen.append("an encoder and a decoder (is_encoder_decoder)")
    archs = raw.get("architectures")
    arch = archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else ""
    if arch.endswith(_NOT_CAUSAL_HEADS):
        seen.append(f"a non-causal-LM class ({arch})")
    return seen


_TOWER_KEYS = ("vision_config", "audio_config", "speech_config", "vision_tower_config")


def _transformers_count(config: Mapping, name: str | None, use_transformers: bool | None) -> tuple[ModelSpec | None, str | None]:
    """(transformers' count, None) when the optional extra runs and succeeds; else (None, why it failed),
    or (None, None) when it was not asked (use_transformers False, or None and the extra unavailable)."""
    from llmmem import count_with_transformers  # NOTE: imports no torch itself; the child process does

    if not (use_transformers or (use_transformers is None and count_with_transformers.available())):
        return None, None
    try:
        return count_with_transformers.spec_from_transformers(config, name), None
    except count_with_transformers.TransformersCountError as error:
        return None, str(error)


def _uncounted_tower(config: Mapping, towers: list[str], name: str | None, use_transformers: bool | None) -> ModelSpec:
    """A multimodal config whose tower llmmem cannot count: transformers' count, else a one-line refusal."""
    spec, failed = _transformers_count(config, name, use_transformers)
    if spec is not None:
        return spec
    hint = failed or f"{EXTRA_NOTE}, or give a parameter count like 70B"
    raise ConfigError(
        f"{config.get('model_type') or 'this model'!r} has a {' and '.join(towers)} that llmmem does not count, and its"
        f" text model alone would fall short: {hint}"
    )


def _unknown_family(outer: Mapping, raw: Mapping, name: str | None, use_transformers: bool | None) -> ModelSpec:
    """No family row: transformers' count when the extra is there, else the generic formula when it
    sees everything, else a one-line refusal."""
    spec, failed = _transformers_count(outer, name, use_transformers)
    if spec is not None:
        return spec
    model_type = raw.get("model_type")
    seen = hidden_features(raw)
    seen += [f for f in hidden_features({k: outer[k] for k in _SUB_CONFIG_KEYS if k in outer}) if f not in seen]
    if seen:
        hint = EXTRA_NOTE if not failed or "not installed" in failed else failed.rstrip(".")
        raise ConfigError(
            f"{model_type or 'this model'!r} is not a family llmmem counts, and its config has {'; '.join(seen)}"
            f" that the generic formula cannot count: {hint}, or give a parameter count like 70B"
        )
    label = name or outer.get("_name_or_path") or raw.get("_name_or_path") or str(model_type or "unknown model")
    spec = spec_from_config({**raw, "model_type": _GENERIC_TYPE}, label)
    note = (
        f"approximate: {model_type!r} is not a family llmmem knows; counted with the generic decoder formula"
        f" (llama-like); {EXTRA_NOTE}"
    )
    return replace(spec, model_type=model_type, approximate=True, counted_by=COUNTED_GENERIC, notes=(note,), torch_dtype=config_dtype(outer, raw))  # fmt: skip


# ----------------------------------------------------------------------------- the entry point


def spec_from_config(config: Mapping, name: str | None = None, *, use_transformers: bool | None = None) -> ModelSpec:
    """Describe the model a config.json defines, with transformers' exact parameter count.

    The config is checked first (config_check), then a multimodal checkpoint goes to llmmem/multimodal.py
    (its text model comes back here) and an encoder to llmmem/encoders.py. A vision or audio tower no module
    counts is never left out: transformers' count (the optional extra) or a one-line refusal. A text_config
    without a tower (a wrapper) is sized as the causal LM transformers builds from it.

    A model_type with no family row is counted by transformers when the optional extra is installed
    (use_transformers None: when torch and transformers are importable; llmmem.count_with_transformers),
    else by the generic decoder formula, marked approximate, and only when the config shows nothing
    that formula cannot see (experts, layer-kind lists, SSM fields, sub-configs): those are refused.
    """
    check_config(config)  # untrusted data: types, ranges and size checked before any count (config_check.py)
    if multimodal_type(config):  # vision tower + projector on top of the text model (llmmem/multimodal.py)
        return multimodal_spec(config, spec_from_config, name)
    if is_encoder(config):  # BERT, RoBERTa, T5, ViT (llmmem/encoders.py)
        return encoder_spec(config, name)
    towers = [key for key in _TOWER_KEYS if isinstance(config.get(key), Mapping)]
    if towers:
        # NOTE: a tower the multimodal module does not know: the text model alone would be short of it.
        return _uncounted_tower(config, towers, name, use_transformers)
    outer = config
    text = config.get("text_config")
    if isinstance(text, Mapping):
        # NOTE: a wrapper with no tower left (towers went above): its text model, the causal LM
        # transformers builds from text_config with that config class's defaults.
        # NOTE: a wrapper whose text_config omits its model_type is in multimodal.WRAPPERS (returned above).
        text_type = text.get("model_type")
        raw = {**TEXT_CONFIG_DEFAULTS.get(text_type, {}), **text, "model_type": text_type}
        if raw.get("tie_word_embeddings") is None and config.get("tie_word_embeddings") is not None:
            raw["tie_word_embeddings"] = config["tie_word_embeddings"]
    else:
        raw = dict(config)
    model_type = raw.get("model_type")
    family = FAMILIES.get(model_type)
    if family is None:
        return _unknown_family(outer, raw, name, use_transformers)
    cfg = _Config(raw, family)
    shape = _read_shape(model_type, cfg)

    tied = raw.get("tie_embedding") if model_type in ("lfm2", "lfm2_moe") and "tie_embedding" in raw else raw.get("tie_word_embeddings")
    tied = config_flag(tied, family.tie_default)

    total = _outer_part(model_type, cfg, shape, tied)
    largest_block = 0
    per_expert = 0
    plan = _layer_plan(cfg, shape.layers)
    # NOTE: decoder layers come in a few kinds (attention or state mixer, dense or MoE): size each once.
    for kind in set(plan):
        repeats = plan.count(kind)
        part, expert = _decoder_layer(model_type, cfg, shape, *kind)
        largest_block = max(largest_block, sum(part.values()))
        total.update({key: count * repeats for key, count in part.items()})
        per_expert = per_expert or expert

    breakdown = {key: total[key] for key in BREAKDOWN_KEYS if total[key]}
    parameters = sum(breakdown.values())
    moe_layers = [f == _MOE for _, f in plan]
    active_parameters = None
    if family.moe and breakdown.get("experts"):
        routed = sum(_top_k(cfg, i) or 0 for i, moe in enumerate(moe_layers) if moe) * per_expert
        active_parameters = parameters - breakdown["experts"] + routed

    attention, window = _attention_kinds(cfg, shape.layers)
    state_kind = _STATE_KIND.get(family.state_mixer)
    layer_types = tuple(
        attention[i] if mixer == _ATTN else state_kind if mixer == _STATE else NO_CACHE for i, (mixer, _) in enumerate(plan)
    )
    experts = top_k = moe_inner = None
    if family.moe and any(moe_layers):
        experts, top_k, moe_inner = _moe_shape(cfg)
    # Leading dense layers (DeepSeek's first_k_dense_replace, Llama 4 Maverick's layer 0).
    dense_layers = moe_layers.index(True) if True in moe_layers else None
    mtp_layers, mtp_parameters, notes = _mtp(model_type, cfg, shape, plan)
    if model_type in COUNTED_AS:
        notes.append(
            f"transformers 5.24 has no {model_type} type: counted as {COUNTED_AS[model_type]}, the class its"
            " architectures names (its remote code is that file)"
        )
    state = state_mixers.mixer_dims(family.state_mixer, model_type, cfg.get, shape.hidden) if state_kind in layer_types else {}

    return ModelSpec(
        name=name or outer.get("_name_or_path") or raw.get("_name_or_path") or str(model_type or "unknown model"),
        parameters=parameters,
        model_type=model_type,
        active_parameters=active_parameters,
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
        num_shared_experts=_shared_experts(cfg) if experts else None,
        num_dense_layers=dense_layers,
        kv_lora_rank=cfg.get("kv_lora_rank") if family.mla else None,
        qk_rope_head_dim=cfg.get("qk_rope_head_dim") if family.mla else None,
        index_n_heads=cfg.get("index_n_heads") if family.indexer else None,
        index_head_dim=cfg.get("index_head_dim") if family.indexer else None,
        index_topk=cfg.get("index_topk") if family.indexer else None,
        layer_types=layer_types,
        ffn_types=tuple(ffn for _, ffn in plan),
        sliding_window=window,
        attention_chunk_size=cfg.get("attention_chunk_size", 8192) if CHUNKED_ATTENTION in layer_types else None,
        state_dtype=_state_dtype(raw),
        tie_word_embeddings=tied,
        torch_dtype=config_dtype(outer, raw),
        quantization=outer.get("quantization_config") or raw.get("quantization_config"),
        mtp_layers=mtp_layers,
        mtp_parameters=mtp_parameters,
        counted_by=COUNTED_EXACT,
        notes=tuple(notes),
        **state,
    )


def _shared_experts(cfg: _Config) -> int:
    kind = cfg.family.moe
    if kind == "deepseek":
        return cfg.get("n_shared_experts") or 0
    if kind == "ernie":
        return cfg.get("moe_num_shared_experts") or 0
    return 1 if kind in ("qwen2_moe", "qwen3_5_moe", "llama4", "hunyuan", "nemotron_h") else 0


def _state_dtype(raw: Mapping) -> str | None:
    for key in ("mamba_ssm_cache_dtype", "mamba_ssm_dtype"):
        if isinstance(raw.get(key), str):
            return raw[key]
    return None


