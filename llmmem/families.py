"""The family table: how each transformers model_type lays out its parameters (one row a family).

architectures.py turns a row and a config into counts; this module only says what each family has.
Rows follow the transformers 5.24.0 modeling files of each family (checked to the unit against them:
tests/test_architectures.py, bench/check_param_counts.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from llmmem import state_mixers

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
    qk_norm_flag: Flag = True  # whether the qk norms exist (GLM-4.5's use_qk_norm)
    attention_gate: bool = False  # q_proj also yields an output gate: twice the query width (Qwen3-Next)
    lm_head_bias: Flag = False
    # Which MoE layout, if any: see _moe_block.
    moe: str | None = None
    # Which layers use a sliding window: see _layer_types.
    sliding: str = "none"
    mla: bool = False  # DeepSeek multi-head latent attention
    indexer: bool = False  # DeepSeek-V3.2's sparse-attention indexer in every attention layer
    # Which token mixer each layer has, see _layer_plan: "decoder" (attention everywhere), "layer_types"
    # (config.layer_types names attention or the state mixer), "nemotron_h", "jamba", "mamba", "lfm2".
    layout: str = "decoder"
    state_mixer: str | None = None  # state_mixers.MAMBA1 / MAMBA2 / GATED_DELTA_NET / SHORT_CONV
    # Config keys that declare multi-token-prediction layers transformers does not build, and how the
    # checkpoint lays each one out (see _mtp): "deepseek", "qwen3_next", or None (size not modelled).
    mtp_keys: tuple[str, ...] = ()
    mtp_layout: str | None = None
    # Config class defaults for keys real configs sometimes omit (transformers 5.24.0 config classes).
    defaults: Mapping[str, Any] = field(default_factory=dict)


# The common switch: one config key, attention_bias (default false), for the q, k, v and o projections' biases.
_ATTENTION_BIAS = {"qkv_bias": ("attention_bias", False), "o_bias": ("attention_bias", False)}
LLAMA = Family(**_ATTENTION_BIAS, mlp_bias=("mlp_bias", False))
_QWEN_MOE_DEFAULTS = {"decoder_sparse_step": 1, "mlp_only_layers": []}

FAMILIES: dict[str, Family] = {
    "llama": LLAMA,
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
        **_ATTENTION_BIAS,
        qk_norm="head",
        sliding="qwen2",
        defaults={"head_dim": 128},
    ),
    "qwen3_moe": Family(
        **_ATTENTION_BIAS,
        qk_norm="head",
        moe="qwen3_moe",
        sliding="all_if_enabled",
        defaults={**_QWEN_MOE_DEFAULTS, "num_experts": 128, "num_experts_per_tok": 8, "moe_intermediate_size": 768},
    ),
    "gemma": Family(tie_default=True, **_ATTENTION_BIAS, defaults={"head_dim": 256}),
    "gemma2": Family(
        tie_default=True,
        **_ATTENTION_BIAS,
        layer_norms=4,
        sliding="alternate",
        defaults={"head_dim": 256, "sliding_window": 4096},
    ),
    "gemma3_text": Family(
        tie_default=True,
        **_ATTENTION_BIAS,
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
    "olmo2": Family(**_ATTENTION_BIAS, qk_norm="all_heads"),
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
        mtp_keys=("num_nextn_predict_layers",),
        mtp_layout="deepseek",
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
        **_ATTENTION_BIAS,
        moe="llama4",
        defaults={
            "head_dim": 128,
            "num_local_experts": 16,
            "num_experts_per_tok": 1,
            "interleave_moe_layer_step": 1,
            "intermediate_size_mlp": 16384,
        },
    ),
    # ------------------------------------------------------------------ newer dense and MoE families
    "smollm3": Family(
        tie_default=True, **_ATTENTION_BIAS,
        mlp_bias=("mlp_bias", False), sliding="smollm3",
    ),
    "exaone4": Family(qk_norm="head", sliding="exaone4", defaults={"sliding_window": 4096, "sliding_window_pattern": 4}),
    "olmo3": Family(
        **_ATTENTION_BIAS, qk_norm="all_heads",
        sliding="olmo3", defaults={"sliding_window": 4096},
    ),
    "ministral3": Family(sliding="all", defaults={"head_dim": 128}),
    "minimax_m2": Family(
        qk_norm="all_heads", moe="mixtral", mtp_keys=("num_mtp_modules",),
        defaults={"head_dim": 128, "num_local_experts": 256, "num_experts_per_tok": 8},
    ),
    "glm4_moe": Family(
        qkv_bias=("attention_bias", False), qk_norm="head", qk_norm_flag=("use_qk_norm", False), moe="deepseek",
        mtp_keys=("num_nextn_predict_layers",), mtp_layout="deepseek",
        defaults={
            "first_k_dense_replace": 1, "n_shared_experts": 1, "n_routed_experts": 128, "num_experts_per_tok": 8,
            "moe_intermediate_size": 1408,
        },
    ),
    "ernie4_5_moe": Family(
        tie_default=True, qkv_bias=("use_bias", False), o_bias=("use_bias", False), mlp_bias=("use_bias", False),
        lm_head_bias=("use_bias", False), moe="ernie",
        defaults={
            "moe_num_experts": 64, "moe_k": 6, "moe_intermediate_size": 1536, "moe_num_shared_experts": 2,
            "moe_layer_start_index": 1, "moe_layer_end_index": -1, "moe_layer_interval": 1,
        },
    ),
    "hunyuan_v1_dense": Family(**_ATTENTION_BIAS, qk_norm="head"),
    "hunyuan_v1_moe": Family(
        **_ATTENTION_BIAS, qk_norm="head", moe="hunyuan",
        defaults={"num_experts": 1, "moe_topk": 1},
    ),
    "deepseek_v32": Family(
        mla=True, indexer=True, moe="deepseek", mtp_keys=("num_nextn_predict_layers",), mtp_layout="deepseek",
        defaults={
            "first_k_dense_replace": 3, "n_shared_experts": 1, "n_routed_experts": 256, "num_experts_per_tok": 8,
            "moe_intermediate_size": 2048, "q_lora_rank": 1536, "index_n_heads": 64, "index_head_dim": 128,
            "index_topk": 2048,
        },
    ),
    # ------------------------------------------------------------------ hybrids and SSMs
    "qwen3_next": Family(
        **_ATTENTION_BIAS, qk_norm="head", attention_gate=True,
        moe="qwen2_moe", layout="layer_types", state_mixer=state_mixers.GATED_DELTA_NET,
        mtp_keys=("num_nextn_predict_layers",), mtp_layout="qwen3_next",
        defaults={
            **_QWEN_MOE_DEFAULTS, "head_dim": 256, "num_experts": 512, "num_experts_per_tok": 10,
            "moe_intermediate_size": 512, "shared_expert_intermediate_size": 512, "full_attention_interval": 4,
        },
    ),
    "qwen3_5_text": Family(
        **_ATTENTION_BIAS, qk_norm="head", attention_gate=True,
        layout="layer_types", state_mixer=state_mixers.GATED_DELTA_NET, mtp_keys=("mtp_num_hidden_layers",),
        mtp_layout="qwen3_next",
        defaults={"head_dim": 256, "full_attention_interval": 4},
    ),
    "nemotron_h": Family(
        mlp="plain", mlp_bias=("mlp_bias", False), layer_norms=1, moe="nemotron_h", layout="nemotron_h",
        state_mixer=state_mixers.MAMBA2, mtp_keys=("num_nextn_predict_layers",),
        defaults={
            "head_dim": 128, "n_routed_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 7688,
            "moe_shared_expert_intermediate_size": 7688, "intermediate_size": 21504,
        },
    ),
    "jamba": Family(
        moe="jamba", layout="jamba", state_mixer=state_mixers.MAMBA1,
        defaults={
            "num_experts": 16, "num_experts_per_tok": 2, "expert_layer_period": 2, "expert_layer_offset": 1,
            "attn_layer_period": 8, "attn_layer_offset": 4,
        },
    ),
    "mamba": Family(tie_default=True, layer_norms=1, layout="mamba", state_mixer=state_mixers.MAMBA1),
    "falcon_mamba": Family(tie_default=True, layer_norms=1, layout="mamba", state_mixer=state_mixers.MAMBA1),
    "mamba2": Family(layer_norms=1, layout="mamba", state_mixer=state_mixers.MAMBA2),
    "lfm2": Family(tie_default=True, qk_norm="head", layout="lfm2", state_mixer=state_mixers.SHORT_CONV),
    "lfm2_moe": Family(
        tie_default=True, qk_norm="head", layout="lfm2", state_mixer=state_mixers.SHORT_CONV, moe="lfm2_moe",
        defaults={
            "intermediate_size": 7168, "moe_intermediate_size": 1792, "num_dense_layers": 2, "num_experts": 32,
            "num_experts_per_tok": 4,
        },
    ),
    "qwen3_5_moe_text": Family(
        **_ATTENTION_BIAS, qk_norm="head", attention_gate=True,
        moe="qwen3_5_moe", layout="layer_types", state_mixer=state_mixers.GATED_DELTA_NET,
        mtp_keys=("mtp_num_hidden_layers",), mtp_layout="qwen3_next",
        defaults={
            "head_dim": 256, "full_attention_interval": 4, "num_experts": 256, "num_experts_per_tok": 8,
            "moe_intermediate_size": 512, "shared_expert_intermediate_size": 512,
        },
    ),
}  # fmt: skip
# NOTE: Kimi K2 ships remote code that is DeepSeek-V3's modeling file under another model_type;
# transformers 5.24 has no kimi_k2 type, and llmmem counts the class its architectures names.
FAMILIES["kimi_k2"] = FAMILIES["deepseek_v3"]
COUNTED_AS = {"kimi_k2": "DeepseekV3ForCausalLM"}
# NOTE: Gemma 3's published multimodal configs leave most of text_config to Gemma3TextConfig's defaults
# (transformers 5.24.0), e.g. google/gemma-3-4b-it gives only hidden_size, intermediate_size, layers
# (multimodal.WRAPPERS["gemma3"] reads them from here too).
TEXT_CONFIG_DEFAULTS = {
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
