"""config.json as untrusted data: every field llmmem reads, checked for type and range before any count.

A config can come from anyone (a Hub repo, a local file, a share link naming a repo), so nothing in it is
trusted: `check_config` runs once, at the top of architectures.spec_from_config, and refuses with one line
that names the field, its value (shortened) and the limit. After it, every count the architectures read is
a real int within bounds, every flag a real bool, every list the right kind, so counts stay ints and the
work stays small (a config cannot ask for 10^9 layers or a 10^200-wide hidden size).

To read a new field in architectures.py (or multimodal.py, encoders.py ...): add one row to FIELDS (or to
the table of the sub-dict it lives in). Keys not in a table are not read by llmmem and are not checked,
except for the overall size bound.
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import ConfigError

# NOTE: the largest real config.json files (id2label tables, long lists of unquantized modules) are a
# few hundred KB; 2 MiB is generous and keeps a hostile file from costing memory or time. The same
# bound holds for the decoded JSON: its nodes, its text and its depth.
MAX_CONFIG_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 32

# Generous stated maxima: far beyond any published model (largest today: ~130 layers, hidden 25,600,
# vocab 262,144, 384 experts, 10M positions), small enough that no count or loop can explode.
# NOTE: 2,048 layers is 10x any model published; some per-layer layouts cost O(layers^2) (0.3 s at 2,048).
MAX_LAYERS = 2_048
MAX_HIDDEN = 2**20
MAX_HEADS = 2**16
MAX_HEAD_DIM = 2**16
MAX_VOCAB = 2**24
MAX_INTERMEDIATE = 2**22
MAX_EXPERTS = 2**16
MAX_POSITIONS = 2**40
MAX_LIST = MAX_LAYERS  # per-layer lists
MAX_TEXT = 256


def _n(value: int) -> str:
    return f"{value:,}"


_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxlong, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxlevel = 30, 30, 30, 3, 2, 2


def shown(value: Any) -> str:
    """A value as an error may quote it: a repr of at most about 40 characters, whatever its size."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"<{len(str(abs(value)))}-digit integer>" if abs(value) < 10**4000 else "<huge integer>"
    text = _SHORT.repr(value)
    return text if len(text) <= 40 else text[:36] + "...'" if isinstance(value, str) else text[:37] + "..."


# --- Rules: each says what a value must be, and checks one -----------------------------------------------


class Rule:
    expected: str = "a value"

    def problem(self, value: Any, path: str) -> str | None:
        """None when the value is fine, else the error line."""
        raise NotImplementedError


_FIX = "fix the config.json, or give a parameter count like 7B"


def _refused(path: str, value: Any, expected: str) -> str:
    return f"config.json has {path}={shown(value)}, expected {expected}: {_FIX}"


@dataclass(frozen=True)
class _Range(Rule):
    """A number of one kind from low to high (a JSON true/false is not a number)."""

    low: float
    high: float

    def is_kind(self, value: Any) -> bool:
        raise NotImplementedError

    def problem(self, value, path):
        if isinstance(value, bool) or not self.is_kind(value) or not self.low <= value <= self.high:
            return _refused(path, value, self.expected)
        return None


class Int(_Range):
    @property
    def expected(self) -> str:
        return f"an integer from {_n(self.low)} to {_n(self.high)}"

    def is_kind(self, value):
        return isinstance(value, int)


class Number(_Range):
    @property
    def expected(self) -> str:
        return f"a number from {self.low:g} to {self.high:g}"

    def is_kind(self, value):
        return isinstance(value, (int, float)) and math.isfinite(value)


@dataclass(frozen=True)
class Bool(Rule):
    expected: str = "true or false"

    def problem(self, value, path):
        return None if isinstance(value, bool) else _refused(path, value, self.expected)


@dataclass(frozen=True)
class Text(Rule):
    max_length: int = MAX_TEXT

    @property
    def expected(self) -> str:
        return f"a string of at most {_n(self.max_length)} characters"

    def problem(self, value, path):
        if not isinstance(value, str) or len(value) > self.max_length:
            return _refused(path, value, self.expected)
        return None


@dataclass(frozen=True)
class ListOf(Rule):
    item: Rule
    max_length: int = MAX_LIST
    min_length: int = 0

    @property
    def expected(self) -> str:
        if self.min_length == self.max_length:
            return f"a list of {self.max_length} items, each {self.item.expected}"
        return f"a list of at most {_n(self.max_length)} items, each {self.item.expected}"

    def problem(self, value, path):
        if not isinstance(value, list) or not self.min_length <= len(value) <= self.max_length:
            return _refused(path, value, self.expected)
        for index, item in enumerate(value):
            if item is None or self.item.problem(item, f"{path}[{index}]"):
                return _refused(f"{path}[{index}]", item, self.item.expected)
        return None


@dataclass(frozen=True)
class OneOf(Rule):
    """The first rule a value satisfies wins (e.g. an int or a list of ints)."""

    rules: tuple[Rule, ...]

    @property
    def expected(self) -> str:
        return " or ".join(rule.expected for rule in self.rules)

    def problem(self, value, path):
        if any(rule.problem(value, path) is None for rule in self.rules):
            return None
        return _refused(path, value, self.expected)


@dataclass(frozen=True)
class Table(Rule):
    """A JSON object whose listed keys follow their rules (null allowed: it means "absent" or "none")."""

    fields: Mapping[str, Rule]
    consistency: tuple = ()  # functions (table dict, path prefix) -> problem line or None

    expected: str = "an object"

    def problem(self, value, path):
        if not isinstance(value, Mapping):
            return _refused(path, value, self.expected)
        prefix = f"{path}." if path else ""
        for key, rule in self.fields.items():
            item = value.get(key)
            if item is not None:
                found = rule.problem(item, prefix + key)
                if found:
                    return found
        for check in self.consistency:
            found = check(value, prefix)
            if found:
                return found
        return None


@dataclass(frozen=True)
class DictOf(Rule):
    """A JSON object of any keys whose values all follow one rule (compressed-tensors' config_groups)."""

    value_rule: Rule
    max_length: int = 256

    @property
    def expected(self) -> str:
        return f"an object of at most {self.max_length} entries, each {self.value_rule.expected}"

    def problem(self, value, path):
        if not isinstance(value, Mapping) or len(value) > self.max_length:
            return _refused(path, value, self.expected)
        for key, item in value.items():
            found = self.value_rule.problem(item, f"{path}.{str(key)[:40]}")
            if found:
                return found
        return None


class _Nested(Rule):
    """A sub-config (text_config, vision_config ...): the whole FIELDS table again."""

    expected = "an object (a config of its own)"

    def problem(self, value, path):
        return CONFIG.problem(value, path)


# --- The table of fields llmmem reads ----------------------------------------------------------------------

# each size's spellings across families, in the order architectures.py reads them

HIDDEN_KEYS = ("hidden_size", "n_embd", "d_model", "n_embed")
LAYERS_KEYS = ("num_hidden_layers", "n_layer", "n_layers", "num_layers")
HEADS_KEYS = ("num_attention_heads", "n_head", "n_heads")
KV_HEADS_KEYS = ("num_key_value_heads", "num_kv_heads", "n_head_kv")
EXPERTS_KEYS = ("num_local_experts", "num_experts", "n_routed_experts")
TOP_K_KEYS = ("num_experts_per_tok", "experts_per_token")

LAYERS = Int(1, MAX_LAYERS)
LAYER_INDEX = Int(0, MAX_LAYERS)
HIDDEN = Int(1, MAX_HIDDEN)
HEADS = Int(1, MAX_HEADS)
HEAD_DIM = Int(1, MAX_HEAD_DIM)
VOCAB = Int(1, MAX_VOCAB)
INTERMEDIATE = Int(1, MAX_INTERMEDIATE)
EXPERTS = Int(0, MAX_EXPERTS)  # NOTE: 0 is "no experts"; architectures.py then asks for the real count
POSITIONS = Int(1, MAX_POSITIONS)
WINDOW = Int(0, MAX_POSITIONS)
RANK = Int(0, MAX_HIDDEN)  # low-rank projections; 0 or null: none
BOOL = Bool()
LAYER_LIST = ListOf(LAYER_INDEX)
LAYER_TYPES = ListOf(Text(64))

_WEIGHTS = Table({"num_bits": Int(1, 64), "type": Text(64), "strategy": Text(64), "symmetric": BOOL, "group_size": Int(-1, 2**20)})
QUANTIZATION = Table({
    "quant_method": Text(64),
    "weight_block_size": ListOf(Int(1, 2**20), 4),
    "bits": Int(1, 64),
    "group_size": Int(-1, 2**20),
    "sym": BOOL,
    "load_in_8bit": BOOL,
    "load_in_4bit": BOOL,
    "bnb_4bit_use_double_quant": BOOL,
    "config_groups": DictOf(Table({"weights": _WEIGHTS, "input_activations": Table({"num_bits": Int(1, 64), "type": Text(64)})})),
})

FIELDS: dict[str, Rule] = {
    # what the model is
    "model_type": Text(64),
    "architectures": ListOf(Text(128), 16),
    "_name_or_path": Text(1024),
    "torch_dtype": Text(32),
    "dtype": Text(32),
    # sizes (each family spells some of them its own way)
    **dict.fromkeys((*HIDDEN_KEYS, "word_embed_proj_dim"), HIDDEN),
    **dict.fromkeys(LAYERS_KEYS, LAYERS),
    **dict.fromkeys(HEADS_KEYS, HEADS),
    **dict.fromkeys((*KV_HEADS_KEYS, "multi_query_group_num"), HEADS),
    **dict.fromkeys(("head_dim", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"), HEAD_DIM),
    **dict.fromkeys(("vocab_size", "padded_vocab_size"), VOCAB),
    **dict.fromkeys((
        "intermediate_size", "ffn_dim", "ffn_hidden_size", "n_inner", "moe_intermediate_size",
        "shared_expert_intermediate_size", "intermediate_size_mlp",
    ), INTERMEDIATE),
    # NOTE: Hunyuan-A13B lists moe_intermediate_size per layer (transformers reads intermediate_size there)
    "moe_intermediate_size": OneOf((INTERMEDIATE, ListOf(INTERMEDIATE))),
    **dict.fromkeys(("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"), POSITIONS),
    # attention layout
    "sliding_window": WINDOW,
    "use_sliding_window": BOOL,
    "max_window_layers": LAYER_INDEX,
    "sliding_window_pattern": OneOf((LAYER_INDEX, Text(64))),  # EXAONE 4.0 writes "LLLG"
    "layer_types": LAYER_TYPES,
    "q_lora_rank": RANK,
    "kv_lora_rank": RANK,
    # mixture of experts
    **dict.fromkeys((*EXPERTS_KEYS, *TOP_K_KEYS), EXPERTS),
    "n_shared_experts": EXPERTS,
    "first_k_dense_replace": LAYER_INDEX,
    "decoder_sparse_step": LAYER_INDEX,
    "interleave_moe_layer_step": LAYER_INDEX,
    "moe_layers": LAYER_LIST,
    "mlp_only_layers": LAYER_LIST,
    # biases, norms and other switches: real booleans only ("no" is not false)
    **dict.fromkeys((
        "tie_word_embeddings", "attention_bias", "mlp_bias", "qkv_bias", "use_bias", "bias", "enable_bias",
        "new_decoder_architecture", "multi_query", "parallel_attn", "qk_layernorm", "layer_norm_elementwise_affine",
        "do_layer_norm_before", "_remove_final_layer_norm",
    ), BOOL),
    "num_ln_in_parallel_attn": Int(1, 2),
    # hybrids, SSMs and newer MoE families (architectures.py, state_mixers.py)
    **dict.fromkeys((
        "full_attention_interval", "attn_layer_period", "expert_layer_period", "moe_layer_interval",
        "no_rope_layer_interval",
    ), Int(1, MAX_LAYERS)),
    **dict.fromkeys((
        "attn_layer_offset", "expert_layer_offset", "moe_layer_start_index", "num_nextn_predict_layers", "num_dense_layers",
        "mtp_num_hidden_layers", "num_mtp_modules",
    ), LAYER_INDEX),
    "moe_layer_end_index": Int(-1, MAX_LAYERS),
    **dict.fromkeys((
        "linear_num_key_heads", "linear_num_value_heads", "mamba_num_heads", "num_heads", "index_n_heads",
    ), HEADS),
    **dict.fromkeys(("linear_key_head_dim", "linear_value_head_dim", "mamba_head_dim", "index_head_dim"), HEAD_DIM),
    **dict.fromkeys(("linear_conv_kernel_dim", "conv_kernel", "mamba_d_conv", "conv_L_cache"), Int(1, 1024)),
    **dict.fromkeys(("ssm_state_size", "state_size", "mamba_d_state"), Int(1, MAX_HEAD_DIM)),
    **dict.fromkeys(("n_groups", "mamba_n_groups"), HEADS),
    **dict.fromkeys(("expand", "mamba_expand"), Number(0.01, 64)),
    **dict.fromkeys(("time_step_rank", "mamba_dt_rank"), OneOf((Int(1, MAX_HIDDEN), Text(8)))),  # an int or "auto"
    **dict.fromkeys((
        "moe_latent_size", "moe_shared_expert_intermediate_size", "block_ff_dim",
    ), INTERMEDIATE),
    "block_multiple_of": Int(1, MAX_INTERMEDIATE),
    "block_ffn_dim_multiplier": Number(0.001, 1000),
    "index_topk": POSITIONS,
    "attention_chunk_size": POSITIONS,
    **dict.fromkeys(("moe_num_experts", "moe_num_shared_experts", "moe_k"), EXPERTS),
    "moe_topk": OneOf((EXPERTS, ListOf(EXPERTS))),
    **dict.fromkeys((
        "use_conv_bias", "mamba_conv_bias", "mamba_proj_bias", "conv_bias", "block_auto_adjust_ff_dim",
        "tie_embedding", "use_qk_norm", "use_mtp",
    ), BOOL),
    "hybrid_override_pattern": Text(MAX_LAYERS),
    **dict.fromkeys(("layers_block_type", "mlp_layer_types"), LAYER_TYPES),
    **dict.fromkeys(("full_attn_idxs", "no_rope_layers"), LAYER_LIST),
    **dict.fromkeys(("mamba_ssm_cache_dtype", "mamba_ssm_dtype"), Text(32)),
    # other families' spellings
    "is_encoder_decoder": BOOL,
    "kv_n_heads": HEADS,
    **dict.fromkeys(("moe_top_k", "num_shared_experts"), EXPERTS),
    # NOTE: vision towers, projectors and encoders (multimodal.py, encoders.py) check their own fields,
    # with their own bounds and messages, before any count.
    # sub-dicts
    "quantization_config": QUANTIZATION,
    "ffn_config": Table({"moe_num_experts": EXPERTS, "moe_top_k": EXPERTS, "ffn_hidden_size": INTERMEDIATE}),
    "attn_config": Table({"kv_n_heads": HEADS}),
}
# Sub-configs of multimodal and wrapper models, checked with the same table.
NESTED_CONFIGS = (
    "text_config", "vision_config", "audio_config", "speech_config", "llm_config", "language_config",
    "thinker_config", "talker_config", "encoder", "decoder", "vision_tower_config",
)
FIELDS.update(dict.fromkeys(NESTED_CONFIGS, _Nested()))


# --- Consistency between fields --------------------------------------------------------------------------


def _first(table: Mapping, keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for key in keys:
        if table.get(key) is not None:
            return key, table[key]
    return None, None


def _heads_divide(table: Mapping, prefix: str) -> str | None:
    """Query heads fall into equal groups per KV head; without head_dim, the hidden size splits into heads."""
    heads_key, heads = _first(table, HEADS_KEYS)
    if heads is None:
        return None
    kv_key, kv_heads = _first(table, KV_HEADS_KEYS)
    if kv_heads is not None and heads % kv_heads:
        return (f"config.json has {prefix}{heads_key}={heads} and {prefix}{kv_key}={kv_heads}, expected the heads to be a "
                f"multiple of the KV heads: {_FIX}")
    hidden_key, hidden = _first(table, HIDDEN_KEYS)
    if hidden is not None and table.get("head_dim") is None and hidden % heads:
        return (f"config.json has {prefix}{hidden_key}={hidden} and {prefix}{heads_key}={heads} with no head_dim, expected "
                f"the hidden size to be a multiple of the heads: {_FIX}")
    return None


def _experts_fit(table: Mapping, prefix: str) -> str | None:
    _, experts = _first(table, EXPERTS_KEYS)
    top_key, top_k = _first(table, TOP_K_KEYS)
    if experts and top_k and top_k > experts:
        return f"config.json has {prefix}{top_key}={top_k}, more than its {experts} experts: {_FIX}"
    return None


def _layer_lists_fit(table: Mapping, prefix: str) -> str | None:
    """layer_types lists one kind per layer (transformers refuses any other length)."""
    layers_key, layers = _first(table, LAYERS_KEYS)
    types = table.get("layer_types")
    if layers is not None and types is not None and len(types) != layers:
        return (f"config.json has {prefix}layer_types of {len(types)} items but {prefix}{layers_key}={layers}, expected one "
                f"kind per layer: {_FIX}")
    return None


CONFIG = Table(FIELDS, consistency=(_heads_divide, _experts_fit, _layer_lists_fit))


# --- Reading values once the config has passed --------------------------------------------------------------


def missing(field_name: str) -> ConfigError:
    return ConfigError(f"config.json has no {field_name}: give the model's full config.json, or a parameter count like 7B")


def positive_int(key: str, value: Any) -> int:
    """A config value that must be a positive integer, or a one-line ConfigError naming the key."""
    if value is None:
        raise missing(key)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"config.json has {key}={value!r}, not a positive integer: fix the config.json")
    return value


def flag(value: Any, default: bool) -> bool:
    """A config flag as transformers reads it: absent or null is the config class's default."""
    return default if value is None else bool(value)


def config_dtype(*sources: Mapping) -> str | None:
    """The checkpoint dtype the first source names (torch_dtype, or transformers 5's dtype)."""
    for source in sources:
        for key in ("torch_dtype", "dtype"):
            if isinstance(source.get(key), str):
                return source[key]
    return None


class DefaultedConfig:
    """A config dict with its config class's defaults behind it."""

    def __init__(self, raw: Mapping, defaults: Mapping[str, Any]):
        self.raw = raw
        self.defaults = defaults

    def get(self, key: str, default: Any = None) -> Any:
        # NOTE: like transformers' config classes: an absent key takes the class default, an explicit
        # null stays null (DeepSeek-V2-Lite's "q_lora_rank": null means no q compression).
        if key in self.raw:
            return self.raw[key]
        return self.defaults.get(key, default)

    def int(self, key: str) -> int:
        return positive_int(key, self.get(key))


# --- The entry point ---------------------------------------------------------------------------------------


def check_config(config: Any) -> None:
    """Refuse a config.json llmmem must not compute with: ConfigError with one line, else None."""
    if not isinstance(config, Mapping):
        raise ConfigError("config.json must hold a JSON object: give the model's config.json")
    _check_size(config)
    found = CONFIG.problem(config, "")
    if found:
        raise ConfigError(found)


def _check_size(config: Mapping) -> None:
    """The decoded JSON is bounded as a file would be: nodes, characters of text, nesting depth."""
    nodes, characters = 0, 0
    stack: list[tuple[Any, int]] = [(config, 1)]
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise ConfigError(f"config.json nests objects {MAX_DEPTH} levels deep or more: give the model's real config.json")
        if isinstance(value, str):
            characters += len(value)
        elif isinstance(value, (Mapping, list, tuple)) and nodes + len(stack) + len(value) > MAX_NODES:
            nodes = MAX_NODES + 1  # refused below, before a huge container is walked
        elif isinstance(value, Mapping):
            for key, item in value.items():
                characters += len(key) if isinstance(key, str) else 0
                stack.append((item, depth + 1))
        elif isinstance(value, (list, tuple)):
            stack.extend((item, depth + 1) for item in value)
        if nodes > MAX_NODES or characters > MAX_CONFIG_BYTES:
            raise ConfigError(f"config.json holds more than {_n(MAX_NODES)} values or {_n(MAX_CONFIG_BYTES)} characters: "
                              "give the model's real config.json")
