"""Encoders and encoder-decoders: BERT, RoBERTa, T5, ViT, counted as transformers builds the named class.

The class is `architectures[0]` (BertForMaskedLM, RobertaModel, T5ForConditionalGeneration, ViTModel ...):
each head class adds or drops a pooler and a head, so the same backbone has several counts. A config
without `architectures` is counted as the bare model (BertModel, T5ForConditionalGeneration for T5).
Every layout follows the modeling_*.py file of transformers 5.24.0; counts are checked to the unit
against that version (tests/test_encoders.py, bench/count_vision_encoders.py). Nothing here does I/O.

Serving: an encoder-only model (BERT, RoBERTa, ViT) keeps no KV cache: each request runs one forward pass
over its whole input, so its layers are marked NO_CACHE and the memory is weights plus activations. T5's
decoder does cache keys and values (self-attention per generated token, cross-attention over the encoder
output), so its spec describes the decoder layers.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Mapping

from llmmem.config_check import MAX_LAYERS, DefaultedConfig, config_dtype
from llmmem.errors import ConfigError
from llmmem.layer_sizes import linear as _linear
from llmmem.spec import BREAKDOWN_KEYS, FULL_ATTENTION, NO_CACHE, ModelSpec

# NOTE: vLLM serves these as pooling models; their layers get EncoderOnlyAttentionSpec, whose
# max_memory_usage_bytes is 0 (vllm/v1/kv_cache_interface.py).
NO_KV_NOTE = "encoder-only model: no KV cache; each request is one forward pass, so memory is weights plus activations"


class _Cfg(DefaultedConfig):
    """A config dict with its config class's defaults (transformers 5.24.0) behind it."""

    def num_labels(self) -> int:
        """PreTrainedConfig.num_labels: the size of id2label when given, else num_labels, else 2."""
        id2label = self.raw.get("id2label")
        if isinstance(id2label, Mapping) and id2label:
            return len(id2label)
        value = self.raw.get("num_labels")
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 2


# ----------------------------------------------------------------------------- BERT and RoBERTa

_BERT = {"vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
         "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2, "tie_word_embeddings": True}  # fmt: skip
_ROBERTA = {**_BERT, "vocab_size": 50265}


def _bert_layers(cfg: _Cfg) -> Counter:
    """BertLayer / RobertaLayer x num_hidden_layers: q, k, v, output dense (all biased), two LayerNorms,
    intermediate and output dense; a decoder with add_cross_attention gets a second attention block."""
    h, inner, layers = cfg.int("hidden_size"), cfg.int("intermediate_size"), cfg.int("num_hidden_layers")
    attention_blocks = 2 if cfg.get("is_decoder") and cfg.get("add_cross_attention") else 1
    return Counter(
        attention_qo=layers * attention_blocks * 2 * _linear(h, h),
        attention_kv=layers * attention_blocks * 2 * _linear(h, h),
        norms=layers * (attention_blocks + 1) * 2 * h,
        mlp=layers * (_linear(h, inner) + _linear(inner, h)),
    )


def _bert_backbone(cfg: _Cfg, pooler: bool) -> Counter:
    """BertModel / RobertaModel: word, position and token-type embeddings, LayerNorm, layers, pooler."""
    h = cfg.int("hidden_size")
    part = Counter(
        embedding=cfg.int("vocab_size") * h,
        position_embedding=(cfg.int("max_position_embeddings") + cfg.int("type_vocab_size")) * h,
        norms=2 * h,
    )
    part += _bert_layers(cfg)
    if pooler:
        part["other"] += _linear(h, h)
    return part


def _mlm_head(cfg: _Cfg) -> Counter:
    """BertLMPredictionHead / RobertaLMHead: dense + LayerNorm transform, decoder to the vocabulary, and an
    output bias. Tied (the default), the decoder's weight is the word embeddings and its bias is the
    head's bias; untied, both are separate tensors (weight, decoder bias, head bias)."""
    h, vocab = cfg.int("hidden_size"), cfg.int("vocab_size")
    part = Counter(other=_linear(h, h), norms=2 * h, lm_head=vocab)
    if not cfg.get("tie_word_embeddings", True):
        part["lm_head"] += vocab * h + vocab
    return part


def _bert_like(cfg: _Cfg, head: str, roberta: bool) -> Counter:
    """The named BERT or RoBERTa class (modeling_bert.py, modeling_roberta.py)."""
    h = cfg.int("hidden_size")
    labels = cfg.num_labels()
    # NOTE: RoBERTa's sequence classifier has its own dense head, so it drops BERT's pooler.
    pooled = {"Model", "ForPreTraining", "ForNextSentencePrediction", "ForMultipleChoice"}
    if not roberta:
        pooled.add("ForSequenceClassification")
    part = _bert_backbone(cfg, pooler=head in pooled)
    if head in ("ForMaskedLM", "LMHeadModel", "ForCausalLM", "ForPreTraining"):
        part += _mlm_head(cfg)
    if head in ("ForPreTraining", "ForNextSentencePrediction"):
        part["other"] += _linear(h, 2)  # seq_relationship
    elif head == "ForSequenceClassification":
        part["other"] += (_linear(h, h) if roberta else 0) + _linear(h, labels)
    elif head == "ForMultipleChoice":
        part["other"] += _linear(h, 1)
    elif head in ("ForTokenClassification", "ForQuestionAnswering"):
        part["other"] += _linear(h, labels)
    return part


# ----------------------------------------------------------------------------- T5

_T5 = {"vocab_size": 32128, "d_model": 512, "d_kv": 64, "d_ff": 2048, "num_layers": 6, "num_heads": 8,
       "relative_attention_num_buckets": 32, "feed_forward_proj": "relu"}  # fmt: skip


def _t5_stack(cfg: _Cfg, layers: int, decoder: bool) -> Counter:
    """T5Stack: blocks of bias-free attention (q, k, v, o over num_heads x d_kv), a relative position
    bias in block 0 only, cross-attention in decoder blocks, a (gated) bias-free feed-forward, RMS norms."""
    d, inner, ff = cfg.int("d_model"), cfg.int("num_heads") * cfg.int("d_kv"), cfg.int("d_ff")
    # NOTE: T5Config derives is_gated_act from feed_forward_proj, but an is_gated_act written in config.json
    # (every config saved by transformers has one) overrides it in transformers 5.24.
    gated = cfg.raw.get("is_gated_act")
    if not isinstance(gated, bool):
        gated = str(cfg.get("feed_forward_proj")).startswith("gated-")
    attentions = 2 if decoder else 1
    return Counter(
        attention_qo=layers * attentions * 2 * d * inner,
        attention_kv=layers * attentions * 2 * d * inner,
        mlp=layers * (3 if gated else 2) * d * ff,
        norms=layers * (attentions + 1) * d + d,  # + final_layer_norm
        position_embedding=cfg.int("relative_attention_num_buckets") * cfg.int("num_heads"),
    )


def _decoder_layers(cfg: _Cfg) -> int:
    """T5Config: num_decoder_layers, or num_layers when it is absent or null (a symmetric model)."""
    if cfg.get("num_decoder_layers") is None:
        return cfg.int("num_layers")
    layers = cfg.int("num_decoder_layers")
    if layers > MAX_LAYERS:  # NOTE: the spec lists one kind per decoder layer
        raise ConfigError(f"config.json has num_decoder_layers={layers:,}, more than {MAX_LAYERS:,}: fix the config.json")
    return layers


def _t5(cfg: _Cfg, head: str) -> Counter:
    """The named T5 class (modeling_t5.py). One shared embedding for both stacks; the LM head is tied to
    it: T5Config forces tie_word_embeddings=True in transformers 5.24 (a False in config.json only turns
    off the decoder-output scaling), so flan-t5 and t5 v1.1, whose checkpoints ship an untied lm_head, are
    built with it tied."""
    d, vocab = cfg.int("d_model"), cfg.int("vocab_size")
    labels = cfg.num_labels()
    decoder_layers = _decoder_layers(cfg)
    part = Counter(embedding=vocab * d)
    part += _t5_stack(cfg, cfg.int("num_layers"), decoder=False)
    if head not in ("EncoderModel", "ForTokenClassification"):
        part += _t5_stack(cfg, decoder_layers, decoder=True)
    if head == "ForSequenceClassification":
        part["other"] += _linear(d, d) + _linear(d, labels)
    elif head in ("ForTokenClassification", "ForQuestionAnswering"):
        part["other"] += _linear(d, labels)
    return part


# ----------------------------------------------------------------------------- ViT

_VIT = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
        "image_size": 224, "patch_size": 16, "num_channels": 3, "qkv_bias": True, "encoder_stride": 16}  # fmt: skip


def _side(cfg: _Cfg, key: str) -> tuple[int, int]:
    """An image or patch size: one int, or [height, width]."""
    value = cfg.get(key)
    pair = value if isinstance(value, (list, tuple)) and len(value) == 2 else (value, value)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair):
        raise ConfigError(f"config.json has {key}={value!r}, not a positive size: fix the config.json")
    return pair[0], pair[1]


def _vit(cfg: _Cfg, head: str) -> Counter:
    """The named ViT class (modeling_vit.py): Conv2d patches with bias, a class token (and a mask token for
    masked image modeling), learned positions for the patches and the class token, pre-norm blocks, a
    final LayerNorm, a pooler (ViTModel only) and the head."""
    h, inner, layers = cfg.int("hidden_size"), cfg.int("intermediate_size"), cfg.int("num_hidden_layers")
    heads = cfg.int("num_attention_heads")
    ph, pw = _side(cfg, "patch_size")
    ih, iw = _side(cfg, "image_size")
    channels = cfg.int("num_channels")
    qkv = h // heads * heads  # NOTE: q/k/v width is num_heads x (hidden // num_heads)
    bias = bool(cfg.get("qkv_bias"))
    part = Counter(
        embedding=_linear(channels * ph * pw, h) + h + (h if head == "ForMaskedImageModeling" else 0),
        position_embedding=((ih // ph) * (iw // pw) + 1) * h,
        attention_qo=layers * (_linear(h, qkv, bias) + _linear(qkv, h)),
        attention_kv=layers * 2 * _linear(h, qkv, bias),
        mlp=layers * (_linear(h, inner) + _linear(inner, h)),
        norms=layers * 4 * h + 2 * h,
    )
    if head == "Model":
        part["other"] += _linear(h, cfg.get("pooler_output_size") or h)
    elif head == "ForImageClassification":
        labels = cfg.num_labels()
        part["other"] += _linear(h, labels) if labels > 0 else 0
    elif head == "ForMaskedImageModeling":
        stride = cfg.int("encoder_stride")
        part["other"] += _linear(h, stride * stride * channels, True)  # 1x1 Conv2d decoder
    return part


# ----------------------------------------------------------------------------- the table

# model_type -> (class prefix, config defaults, counter(cfg, head), heads it knows, bare class's head)
_FAMILIES: dict[str, tuple[str, Mapping[str, Any], Callable[[_Cfg, str], Counter], frozenset[str], str]] = {
    "bert": ("Bert", _BERT, lambda cfg, head: _bert_like(cfg, head, roberta=False),
             frozenset({"Model", "ForMaskedLM", "LMHeadModel", "ForPreTraining", "ForNextSentencePrediction",
                        "ForSequenceClassification", "ForMultipleChoice", "ForTokenClassification",
                        "ForQuestionAnswering"}), "Model"),
    "roberta": ("Roberta", _ROBERTA, lambda cfg, head: _bert_like(cfg, head, roberta=True),
                frozenset({"Model", "ForMaskedLM", "ForCausalLM", "ForSequenceClassification", "ForMultipleChoice",
                           "ForTokenClassification", "ForQuestionAnswering"}), "Model"),
    "t5": ("T5", _T5, _t5, frozenset({"Model", "ForConditionalGeneration", "EncoderModel", "ForSequenceClassification",
                                      "ForTokenClassification", "ForQuestionAnswering"}), "ForConditionalGeneration"),
    "vit": ("ViT", _VIT, _vit, frozenset({"Model", "ForImageClassification", "ForMaskedImageModeling"}), "Model"),
}  # fmt: skip


def is_encoder(config: Mapping) -> bool:
    return config.get("model_type") in _FAMILIES


def _head(config: Mapping, prefix: str, known: frozenset[str], bare: str) -> tuple[str, str]:
    """(head, class name): the head of architectures[0], or the bare model when none is named."""
    names = config.get("architectures")
    name = names[0] if isinstance(names, list) and names and isinstance(names[0], str) else None
    if name is None:
        return bare, prefix + bare
    head = name[len(prefix):] if name.startswith(prefix) else None
    if head not in known:
        raise ConfigError(
            f"llmmem does not know the class {name} of this {config.get('model_type')} config: "
            f"use one of {', '.join(sorted(prefix + k for k in known))}, or give a parameter count like 110M"
        )
    return head, name


def encoder_spec(config: Mapping, name: str | None = None) -> ModelSpec:
    """Describe the encoder (or T5 encoder-decoder) class the config names, with transformers' count."""
    model_type = config["model_type"]
    prefix, defaults, count, known, bare = _FAMILIES[model_type]
    head, class_name = _head(config, prefix, known, bare)
    cfg = _Cfg(config, defaults)
    part = count(cfg, head)
    breakdown = {key: part[key] for key in BREAKDOWN_KEYS if part[key]}
    parameters = sum(breakdown.values())

    if model_type == "t5":
        hidden, heads, head_dim = cfg.int("d_model"), cfg.int("num_heads"), cfg.int("d_kv")
        inner_size, vocab = cfg.int("d_ff"), cfg.int("vocab_size")
        layers = _decoder_layers(cfg)
        max_positions = cfg.get("n_positions")
        has_decoder = head not in ("EncoderModel", "ForTokenClassification")
        tied = True
        notes = [f"{class_name} counted (architectures[0])"]
        if has_decoder:
            notes.append(
                "T5's decoder caches keys and values: self-attention per generated token and cross-attention over "
                "the encoder output (per input token, same size per layer: vLLM's CrossAttentionSpec reserves it for "
                "max_num_encoder_input_tokens); layers below are the decoder's"
            )
        else:
            notes.append(NO_KV_NOTE)
        if config.get("tie_word_embeddings") is False and has_decoder and head == "ForConditionalGeneration":
            notes.append(
                "tie_word_embeddings is false: the checkpoint ships a separate lm_head "
                f"({vocab * hidden:,} more parameters on disk), but transformers 5.24 ties it to the shared embedding "
                "(T5Config forces tying); this count is what transformers builds"
            )
        layers = layers if has_decoder else cfg.int("num_layers")
        layer_types = (FULL_ATTENTION if has_decoder else NO_CACHE,) * layers
        block = _t5_stack(cfg, 1, decoder=has_decoder)  # the biggest block: a decoder block when there is one
    else:
        hidden, heads = cfg.int("hidden_size"), cfg.int("num_attention_heads")
        head_dim, inner_size = hidden // heads, cfg.int("intermediate_size")
        layers = cfg.int("num_hidden_layers")
        vocab = cfg.int("vocab_size") if model_type != "vit" else None
        max_positions = cfg.get("max_position_embeddings") if model_type != "vit" else None
        tied = bool(cfg.get("tie_word_embeddings", True)) if model_type != "vit" else False
        notes = [f"{class_name} counted (architectures[0])", NO_KV_NOTE]
        layer_types = (NO_CACHE,) * layers
        block = Counter({key: part[key] // layers for key in ("attention_qo", "attention_kv", "mlp")})  # all alike

    largest_block = block["attention_qo"] + block["attention_kv"] + block["mlp"]
    return ModelSpec(
        name=name or config.get("_name_or_path") or model_type,
        parameters=parameters,
        model_type=model_type,
        breakdown=breakdown,
        largest_layer_parameters=max(largest_block, breakdown.get("embedding", 0)),
        num_layers=layers,
        hidden_size=hidden,
        vocab_size=vocab,
        num_attention_heads=heads,
        num_kv_heads=heads,
        head_dim=head_dim,
        intermediate_size=inner_size,
        max_position_embeddings=max_positions,
        layer_types=layer_types,
        tie_word_embeddings=tied,
        torch_dtype=config_dtype(config),
        quantization=config.get("quantization_config"),
        notes=tuple(notes),
    )
