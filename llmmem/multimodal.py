"""Multimodal checkpoints: the text model plus the vision tower and projector transformers builds with it.

A wrapper config (Gemma 3, Llama 4, Qwen2-VL, Qwen2.5-VL, Qwen3-VL, Qwen3.5, Mistral 3, LFM2-VL, GLM-4.5V,
LLaVA, LLaVA-NeXT, PaliGemma, Idefics3 / SmolVLM) names a `...ForConditionalGeneration` class. transformers 5.24.0 builds it as
the text causal LM (from
`text_config`, counted by llmmem.architectures' family table), a vision tower (from `vision_config`) and a
projector that maps image features into the text model's hidden size. vLLM loads all three, and the
checkpoint's safetensors total includes them, so all three are counted.

Each tower and projector below follows the modeling_*.py file of transformers 5.24.0 named in its
docstring; counts are checked to the unit against that version (tests/test_multimodal.py,
bench/count_vision_encoders.py). Nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from llmmem.config_check import DefaultedConfig, flag, positive_int
from llmmem.errors import ConfigError
from llmmem.families import TEXT_CONFIG_DEFAULTS
from llmmem.layer_sizes import linear as _linear, mlp as _mlp, norm as _norm
from llmmem.spec import PROJECTOR_PART, VISION_PART, ModelSpec

TextSpec = Callable[..., ModelSpec]  # architectures.spec_from_config(config, name=None)


class _Sub(DefaultedConfig):
    """A sub-config dict with its config class's defaults behind it; errors name the sub-config."""

    def __init__(self, raw: Any, defaults: Mapping[str, Any], what: str):
        if raw is not None and not isinstance(raw, Mapping):
            raise ConfigError(f"config.json's {what} must be a JSON object: give the model's full config.json")
        super().__init__(dict(raw or {}), defaults)
        self.what = what

    def int(self, *keys: str) -> int:
        """The first of `keys` the config (then the class defaults) gives, as a positive integer."""
        for source in (self.raw, self.defaults):
            for key in keys:
                value = source.get(key)
                if value is not None:
                    return positive_int(f"{self.what}.{key}", value)
        raise ConfigError(f"config.json's {self.what} has no {keys[0]}: give the model's full config.json")

    def side(self, key: str) -> tuple[int, int]:
        """An image or patch size: one int, or [height, width]."""
        value = self.get(key)
        if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) and v > 0 for v in value):
            return value[0], value[1]
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value, value
        raise ConfigError(f"config.json has {self.what}.{key}={value!r}, not a positive size: fix the config.json")


# ----------------------------------------------------------------------------- vision towers
# Each returns the tower's parameters by group (ModelSpec.parts["vision"]).


def _vit_blocks(layers: int, h: int, inner: int, *, qkv_bias: bool, o_bias: bool, mlp: str, mlp_bias: bool, norm: str) -> Counter:
    """`layers` pre-norm ViT blocks: attention (q, k, v, o over the full width), MLP, two norms."""
    norms = 2 * _norm(h, norm == "layer")
    mlp_params = _mlp(h, inner, mlp, mlp_bias)
    attention = 3 * _linear(h, h, qkv_bias) + _linear(h, h, o_bias)
    return Counter(attention=layers * attention, mlp=layers * mlp_params, norms=layers * norms)


def _siglip_tower(v: _Sub) -> Counter:
    """SiglipVisionModel (siglip_vision_model, modeling_siglip.py) and Siglip2VisionModel (siglip2).

    Patch embedding: SigLIP a Conv2d with bias, SigLIP2 a Linear with bias (the same count). Positions:
    SigLIP one per patch of image_size, SigLIP2 `num_patches`. Then the encoder, post_layernorm, and the
    attention-pooling head when vision_use_head (the default; Gemma 3 and LFM2-VL turn it off).
    """
    h, inner = v.int("hidden_size"), v.int("intermediate_size")
    ph, pw = v.side("patch_size")
    if v.get("model_type") == "siglip2_vision_model":
        positions = v.int("num_patches")
    else:
        ih, iw = v.side("image_size")
        positions = (ih // ph) * (iw // pw)
    part = Counter(patch_embedding=_linear(v.int("num_channels") * ph * pw, h), position_embedding=positions * h)
    part += _vit_blocks(v.int("num_hidden_layers"), h, inner, qkv_bias=True, o_bias=True, mlp="plain", mlp_bias=True, norm="layer")
    part["norms"] += _norm(h, True)  # post_layernorm
    if v.get("vision_use_head", True):
        # probe, nn.MultiheadAttention (in_proj 3h x h + bias, out_proj), layernorm, MLP
        part["head"] = h + 3 * h * h + 3 * h + _linear(h, h) + _norm(h, True) + 2 * h * inner + inner + h
    return part


def _clip_tower(v: _Sub) -> Counter:
    """CLIPVisionModel (clip_vision_model, modeling_clip.py): a class embedding, bias-free Conv2d patches,
    one learned position per patch plus the class token, pre LayerNorm, the encoder, post LayerNorm.
    transformers builds every layer, also those past vision_feature_layer (vLLM drops them when it loads)."""
    h = v.int("hidden_size")
    ph, pw = v.side("patch_size")
    ih, iw = v.side("image_size")
    part = Counter(
        patch_embedding=v.int("num_channels") * ph * pw * h,
        position_embedding=h + ((ih // ph) * (iw // pw) + 1) * h,
        norms=2 * _norm(h, True),
    )
    part += _vit_blocks(v.int("num_hidden_layers"), h, v.int("intermediate_size"), qkv_bias=True, o_bias=True,
                        mlp="plain", mlp_bias=True, norm="layer")  # fmt: skip
    return part


def _idefics3_tower(v: _Sub) -> Counter:
    """Idefics3VisionTransformer / SmolVLMVisionTransformer (modeling_idefics3.py, modeling_smolvlm.py):
    SigLIP's embeddings, encoder and post_layernorm, never a pooling head."""
    return _siglip_tower(_Sub({**v.raw, "model_type": "idefics3_vision", "vision_use_head": False}, v.defaults, v.what))


def _pixtral_tower(v: _Sub) -> Counter:
    """PixtralVisionModel (modeling_pixtral.py): bias-free Conv2d patches, RMS ln_pre, RoPE (no weights),
    blocks with bias-free attention over the full width and a gated MLP, RMS norms."""
    h = v.int("hidden_size")
    ph, pw = v.side("patch_size")
    part = Counter(patch_embedding=v.int("num_channels") * ph * pw * h, norms=h)
    part += _vit_blocks(v.int("num_hidden_layers"), h, v.int("intermediate_size"), qkv_bias=False, o_bias=False,
                        mlp="gated", mlp_bias=False, norm="rms")  # fmt: skip
    return part


def _llama4_tower(v: _Sub) -> Counter:
    """Llama4VisionModel (modeling_llama4.py): unfold + bias-free linear patches, a class embedding, one
    learned position per patch plus the class token, pre/post LayerNorms, GELU blocks with biases, and
    the pixel-shuffle MLP adapter (fc1: intermediate_size -> projector_input_dim, fc2: projector_output_dim
    square, both bias-free; part of the vision model in transformers)."""
    h = v.int("hidden_size")
    ph, pw = v.side("patch_size")
    ih, iw = v.side("image_size")
    part = Counter(
        patch_embedding=v.int("num_channels") * ph * pw * h,
        position_embedding=h + ((ih // ph) * (iw // pw) + 1) * h,  # class_embedding + positional_embedding_vlm
        norms=2 * _norm(h, True),
    )
    part += _vit_blocks(v.int("num_hidden_layers"), h, v.int("intermediate_size"), qkv_bias=True, o_bias=True,
                        mlp="plain", mlp_bias=True, norm="layer")  # fmt: skip
    out = v.int("projector_output_dim")
    part["adapter"] = v.int("intermediate_size") * v.int("projector_input_dim") + out * out
    return part


def _qwen_patches(v: _Sub, bias: bool) -> int:
    """Qwen-VL / GLM-4V Conv3d patch embedding over temporal_patch_size frames."""
    p = v.int("patch_size")
    return _linear(v.int("in_channels") * v.int("temporal_patch_size") * p * p, v.int("hidden_size"), bias)


def _qwen2_5_vl_tower(v: _Sub) -> Counter:
    """Qwen2_5_VisionTransformerPretrainedModel without its merger (modeling_qwen2_5_vl.py): bias-free
    Conv3d patches, blocks with RMS norms, fused qkv and proj with biases, gated MLP with biases."""
    part = Counter(patch_embedding=_qwen_patches(v, bias=False))
    part += _vit_blocks(v.int("depth", "num_hidden_layers"), v.int("hidden_size"), v.int("intermediate_size"),
                        qkv_bias=True, o_bias=True, mlp="gated", mlp_bias=True, norm="rms")  # fmt: skip
    return part


def _qwen2_vl_tower(v: _Sub) -> Counter:
    """Qwen2VisionTransformerPretrainedModel without its merger (modeling_qwen2_vl.py): bias-free Conv3d
    patches of embed_dim, LayerNorm blocks with fused qkv and proj (biased) and a plain MLP of
    embed_dim x mlp_ratio."""
    e = v.int("embed_dim")
    ratio = v.get("mlp_ratio", 4)
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 64:
        raise ConfigError(f"config.json has vision_config.mlp_ratio={ratio!r}, not a number from 0 to 64: fix the config.json")
    part = Counter(patch_embedding=v.int("in_channels") * v.int("temporal_patch_size") * v.int("patch_size") ** 2 * e)
    part += _vit_blocks(v.int("depth", "num_hidden_layers"), e, int(e * ratio), qkv_bias=True,
                        o_bias=True, mlp="plain", mlp_bias=True, norm="layer")  # fmt: skip
    return part


def _qwen3_vl_tower(v: _Sub) -> Counter:
    """Qwen3VLVisionModel / Qwen3_5VisionModel without mergers (modeling_qwen3_vl.py, modeling_qwen3_5.py):
    Conv3d patches with bias, learned positions (num_position_embeddings), LayerNorm blocks with fused
    qkv, proj and a plain MLP, all with biases."""
    h = v.int("hidden_size")
    part = Counter(patch_embedding=_qwen_patches(v, bias=True), position_embedding=v.int("num_position_embeddings") * h)
    part += _vit_blocks(v.int("depth", "num_hidden_layers"), h, v.int("intermediate_size"), qkv_bias=True, o_bias=True,
                        mlp="plain", mlp_bias=True, norm="layer")  # fmt: skip
    return part


def _glm4v_tower(v: _Sub) -> Counter:
    """Glm4vMoeVisionModel without downsample and merger (modeling_glm4v_moe.py): learned positions (one
    per patch of image_size), Conv3d patches with bias, RMS-norm blocks with fused qkv (attention_bias),
    a bias-free proj and a bias-free gated MLP of width out_hidden_size, post-conv and post RMS norms."""
    h = v.int("hidden_size")
    p = v.int("patch_size")
    side = v.int("image_size") // p
    part = Counter(patch_embedding=_qwen_patches(v, bias=True), position_embedding=side * side * h, norms=2 * h)
    part += _vit_blocks(v.int("depth", "num_hidden_layers"), h, v.int("out_hidden_size"),
                        qkv_bias=bool(v.get("attention_bias")), o_bias=False, mlp="gated", mlp_bias=False, norm="rms")  # fmt: skip
    return part


# ----------------------------------------------------------------------------- projectors
# Each takes (outer config, vision sub-config, text hidden size) and returns ModelSpec.parts["projector"].


def _gemma3_projector(outer: _Sub, v: _Sub, text_hidden: int) -> Counter:
    """Gemma3MultiModalProjector: a bias-free projection matrix and a Gemma RMS norm (avg pool: no weights)."""
    h = v.int("hidden_size")
    return Counter(linear=h * text_hidden, norms=h)


def _llama4_projector(outer: _Sub, v: _Sub, text_hidden: int) -> Counter:
    """Llama4MultiModalProjector: one bias-free linear, vision_output_dim -> text hidden size
    (multi_modal_projector_bias is not read by transformers 5.24)."""
    return Counter(linear=v.int("vision_output_dim") * text_hidden)


def _qwen2_5_vl_projector(outer: _Sub, v: _Sub, text_hidden: int) -> Counter:
    """Qwen2_5_VLPatchMerger (the tower's `merger`): RMS norm, then a 2-layer MLP with biases over the
    spatial_merge_size^2 merged patches, into out_hidden_size."""
    h = v.int("hidden_size")
    merged = h * v.int("spatial_merge_size") ** 2
    return Counter(norms=h, merger=_linear(merged, merged) + _linear(merged, v.int("out_hidden_size")))


def _qwen2_vl_projector(outer: _Sub, v: _Sub, text_hidden: int) -> Counter:
    """Qwen2-VL's PatchMerger (the tower's `merger`): LayerNorm over embed_dim, then a 2-layer MLP with
    biases over spatial_merge_size^2 patches into the vision config's hidden_size."""
    e = v.int("embed_dim")
    merged = e * v.int("spatial_merge_size") ** 2
    return Counter(norms=_norm(e, True), merger=_linear(merged, merged) + _linear(merged, v.int("hidden_size")))


def _qwen3_merger(v: _Sub, postshuffle: bool) -> int:
    h = v.int("hidden_size")
    merged = h * v.int("spatial_merge_size") ** 2
    return _norm(merged if postshuffle else h, True) + _linear(merged, merged) + _linear(merged, v.int("out_hidden_size"))


def _qwen3_vl_projector(outer: _Sub, v: _Sub, text_hidden: int) -> Counter:
    """Qwen3VLVisionPatchMerger (the tower's `merger`) plus one deepstack merger (LayerNorm after the
    shuffle) per entry of deepstack_visual_indexes, each feeding an early text layer."""
    indexes = v.get("deepstack_visual_indexes") or ()
    if not isinstance(indexes, (list, tuple)):
        raise ConfigError(f"config.json has vision_config.deepstack_visual_indexes={indexes!r}, not a list: fix the config.json")
    deepstack = len(indexes)
    return Counter(merger=_qwen3_merger(v, False), deepstack_mergers=deepstack * _qwen3_merger(v, True))


def _qwen3_5_projector(outer: _Sub, v: _Sub, text_hidden: int) -> Counter:
    """Qwen3_5VisionPatchMerger: Qwen3-VL's merger; Qwen3.5 builds no deepstack mergers (the key is ignored)."""
    return Counter(merger=_qwen3_merger(v, False))


def _feature_layers(outer: _Sub) -> int:
    layers = outer.get("vision_feature_layer", -1)
    if not isinstance(layers, (int, list, tuple)) or isinstance(layers, bool) or layers == []:
        raise ConfigError(f"config.json has vision_feature_layer={layers!r}, not a layer index or a list of them: fix the config.json")
    return 1 if isinstance(layers, int) else len(layers)


def _llava_projector(outer: _Sub, v: _Sub, text_hidden: int) -> Counter:
    """LlavaMultiModalProjector: linear_1 (vision hidden x feature layers -> text hidden) and linear_2,
    biased when multimodal_projector_bias (LlavaConfig's default: True)."""
    bias = bool(outer.get("multimodal_projector_bias"))
    h = v.int("hidden_size")
    return Counter(linear=_linear(h * _feature_layers(outer), text_hidden, bias) + _linear(text_hidden, text_hidden, bias))


def _llava_next_projector(outer: _Sub, v: _Sub, text_hidden: int) -> Counter:
    """LlavaNextMultiModalProjector (LLaVA's) plus LlavaNextModel's image_newline vector (text hidden size)."""
    return _llava_projector(outer, v, text_hidden) + Counter(image_newline=text_hidden)


def _paligemma_projector(outer: _Sub, v: _Sub, text_hidden: int) -> Counter:
    """PaliGemmaMultiModalProjector: one biased linear, vision hidden -> the outer config's projection_dim
    (PaliGemmaConfig writes it into vision_config, over any value there)."""
    return Counter(linear=_linear(v.int("hidden_size"), outer.int("projection_dim")))


def _idefics3_projector(outer: _Sub, v: _Sub, text_hidden: int) -> Counter:
    """Idefics3Connector / SmolVLMConnector: pixel shuffle (no weights) by scale_factor, then one bias-free
    linear from vision hidden x scale_factor^2 to the text hidden size."""
    return Counter(linear=v.int("hidden_size") * outer.int("scale_factor") ** 2 * text_hidden)


def _mistral3_projector(outer: _Sub, v: _Sub, text_hidden: int) -> Counter:
    """Mistral3MultiModalProjector: RMS norm, bias-free patch merger (spatial_merge_size^2 patches -> one),
    linear_1 (vision hidden x feature layers -> text hidden) and linear_2, biased when
    multimodal_projector_bias."""
    h = v.int("hidden_size")
    bias = bool(outer.get("multimodal_projector_bias"))
    feature_layers = _feature_layers(outer)
    return Counter(
        norms=h,
        merger=h * outer.int("spatial_merge_size") ** 2 * h,
        linear=_linear(h * feature_layers, text_hidden, bias) + _linear(text_hidden, text_hidden, bias),
    )


def _lfm2_vl_projector(outer: _Sub, v: _Sub, text_hidden: int) -> Counter:
    """Lfm2VlMultiModalProjector: LayerNorm over the downsample_factor^2 unshuffled features (when
    projector_use_layernorm), linear_1 -> projector_hidden_size, linear_2 -> text hidden (projector_bias)."""
    merged = v.int("hidden_size") * outer.int("downsample_factor") ** 2
    bias = bool(outer.get("projector_bias"))
    width = outer.int("projector_hidden_size")
    part = Counter(linear=_linear(merged, width, bias) + _linear(width, text_hidden, bias))
    if outer.get("projector_use_layernorm"):
        part["norms"] = _norm(merged, True)
    return part


def _glm4v_projector(outer: _Sub, v: _Sub, text_hidden: int) -> Counter:
    """Glm4vMoeVisionModel's downsample (Conv2d hidden -> out_hidden_size over spatial_merge_size^2
    patches, with bias) and Glm4vMoeVisionPatchMerger (bias-free proj, LayerNorm, gated MLP of
    intermediate_size)."""
    h, out, inner = v.int("hidden_size"), v.int("out_hidden_size"), v.int("intermediate_size")
    return Counter(
        downsample=_linear(h * v.int("spatial_merge_size") ** 2, out),
        merger=out * out + 3 * out * inner,
        norms=_norm(out, True),
    )


# ----------------------------------------------------------------------------- the wrappers

_SIGLIP = {"model_type": "siglip_vision_model", "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
           "num_attention_heads": 12, "num_channels": 3, "image_size": 224, "patch_size": 16, "vision_use_head": True}  # fmt: skip
_SIGLIP2 = {**_SIGLIP, "model_type": "siglip2_vision_model", "num_patches": 256}
_CLIP = {"model_type": "clip_vision_model", "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
         "num_attention_heads": 12, "num_channels": 3, "image_size": 224, "patch_size": 32}  # fmt: skip
_PIXTRAL = {"model_type": "pixtral", "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24,
            "num_attention_heads": 16, "num_channels": 3, "image_size": 1024, "patch_size": 16}  # fmt: skip
_QWEN3_VL_VISION = {"depth": 27, "hidden_size": 1152, "intermediate_size": 4304, "num_heads": 16, "in_channels": 3,
                    "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2, "out_hidden_size": 3584,
                    "num_position_embeddings": 2304}  # fmt: skip
# Towers a wrapper builds with AutoModel.from_config(vision_config): chosen by the vision model_type.
_AUTO_TOWERS: dict[str, tuple[Callable[[_Sub], Counter], Mapping[str, Any]]] = {
    "siglip_vision_model": (_siglip_tower, _SIGLIP),
    "siglip2_vision_model": (_siglip_tower, _SIGLIP2),
    "pixtral": (_pixtral_tower, _PIXTRAL),
    "clip_vision_model": (_clip_tower, _CLIP),
}


@dataclass(frozen=True)
class Wrapper:
    """How one multimodal model_type is built (transformers 5.24.0 config and modeling files)."""

    text_type: str  # the text model's family in llmmem.architectures
    tower: Callable[[_Sub], Counter] | None  # None: AutoModel from vision_config's model_type (_AUTO_TOWERS)
    projector: Callable[[_Sub, _Sub, int], Counter]
    vision_defaults: Mapping[str, Any]  # the vision config class's defaults (or the AutoConfig default type's)
    # The text config class's defaults for the keys published configs leave out.
    text_defaults: Mapping[str, Any] = field(default_factory=dict)
    tie_default: bool = False  # the outer config class's tie_word_embeddings default
    # Where tie_word_embeddings is read: "outer" (the ForConditionalGeneration's lm_head, tied by the outer
    # config), "outer_or_text" (the same, and a True in text_config is forwarded to it: pre-v5 saves),
    # "text" (the lm_head sits in the text causal LM, which ties by its own config: Llama 4).
    tie_from: str = "outer"
    flat_text: bool = False  # text keys may sit at the top level when there is no text_config (Qwen2.5-VL)
    # text_config model_types whose layout is another family's (the key is the published name).
    text_types: Mapping[str, str] = field(default_factory=dict)
    # Keys of the text model that differ from that family's defaults (Glm4vMoeTextConfig vs Glm4MoeConfig).
    text_overrides: Mapping[str, Any] = field(default_factory=dict)
    # Classes of this model_type that build the text model only (no tower, no projector).
    text_only_classes: tuple[str, ...] = ()
    # Sub-config defaults a config class applies only when the whole sub-config is absent (SubConfigSpec
    # init_kwargs: Mistral 3's); a given dict gets its own class's defaults instead.
    text_when_absent: Mapping[str, Any] = field(default_factory=dict)
    outer_defaults: Mapping[str, Any] = field(default_factory=dict)  # the outer config class's projector keys
    vision_when_absent: Mapping[str, Any] = field(default_factory=dict)


WRAPPERS: dict[str, Wrapper] = {
    "gemma3": Wrapper(
        text_type="gemma3_text",
        tower=None,
        projector=_gemma3_projector,
        vision_defaults=_SIGLIP,
        text_defaults=TEXT_CONFIG_DEFAULTS["gemma3_text"],
        tie_default=True,
        text_only_classes=("Gemma3ForCausalLM",),
    ),
    "llama4": Wrapper(
        text_type="llama4_text",
        tower=_llama4_tower,
        projector=_llama4_projector,
        vision_defaults={"hidden_size": 768, "intermediate_size": 5632, "num_hidden_layers": 34, "num_channels": 3,
                         "image_size": 448, "patch_size": 14, "vision_output_dim": 7680, "projector_input_dim": 4096,
                         "projector_output_dim": 4096},  # fmt: skip
        text_defaults={"vocab_size": 202048, "hidden_size": 5120, "intermediate_size": 8192, "num_hidden_layers": 48,
                       "num_attention_heads": 40, "num_key_value_heads": 8, "head_dim": 128},  # fmt: skip
        tie_from="text",
        text_only_classes=("Llama4ForCausalLM",),
    ),
    "qwen2_5_vl": Wrapper(
        text_type="qwen2",
        tower=_qwen2_5_vl_tower,
        projector=_qwen2_5_vl_projector,
        vision_defaults={"depth": 32, "hidden_size": 3584, "intermediate_size": 3420, "num_heads": 16, "in_channels": 3,
                         "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "out_hidden_size": 3584},  # fmt: skip
        text_defaults={"vocab_size": 152064, "hidden_size": 8192, "intermediate_size": 29568, "num_hidden_layers": 80,
                       "num_attention_heads": 64, "num_key_value_heads": 8, "max_position_embeddings": 32768},  # fmt: skip
        tie_from="outer_or_text",
        flat_text=True,
        text_types={"qwen2_5_vl_text": "qwen2", "qwen2_5_vl": "qwen2"},
    ),
    "qwen2_vl": Wrapper(
        text_type="qwen2",
        tower=_qwen2_vl_tower,
        projector=_qwen2_vl_projector,
        vision_defaults={"depth": 32, "embed_dim": 1280, "hidden_size": 3584, "mlp_ratio": 4, "num_heads": 16,
                         "in_channels": 3, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2},  # fmt: skip
        text_defaults={"vocab_size": 152064, "hidden_size": 8192, "intermediate_size": 29568, "num_hidden_layers": 80,
                       "num_attention_heads": 64, "num_key_value_heads": 8, "max_position_embeddings": 32768},  # fmt: skip
        tie_from="outer_or_text",
        flat_text=True,
        text_types={"qwen2_vl_text": "qwen2", "qwen2_vl": "qwen2"},
    ),
    "qwen3_vl": Wrapper(
        text_type="qwen3",
        tower=_qwen3_vl_tower,
        projector=_qwen3_vl_projector,
        vision_defaults={**_QWEN3_VL_VISION, "deepstack_visual_indexes": (8, 16, 24)},
        text_defaults={"vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 22016, "num_hidden_layers": 32,
                       "num_attention_heads": 32, "num_key_value_heads": 32, "head_dim": 128,
                       "max_position_embeddings": 128000},  # fmt: skip
        text_types={"qwen3_vl_text": "qwen3", "qwen3_vl": "qwen3"},
    ),
    "qwen3_vl_moe": Wrapper(
        text_type="qwen3_moe",
        tower=_qwen3_vl_tower,
        projector=_qwen3_vl_projector,
        vision_defaults={**_QWEN3_VL_VISION, "deepstack_visual_indexes": (8, 16, 24)},
        text_defaults={"vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 24,
                       "num_attention_heads": 16, "num_key_value_heads": 16, "head_dim": 128,
                       "max_position_embeddings": 128000, "moe_intermediate_size": 1408, "num_experts": 60,
                       "num_experts_per_tok": 4, "decoder_sparse_step": 1, "mlp_only_layers": []},  # fmt: skip
        text_types={"qwen3_vl_moe_text": "qwen3_moe", "qwen3_vl_moe": "qwen3_moe"},
    ),
    "qwen3_5": Wrapper(
        text_type="qwen3_5_text",
        tower=_qwen3_vl_tower,
        projector=_qwen3_5_projector,
        vision_defaults=_QWEN3_VL_VISION,
        text_defaults={"vocab_size": 248320, "hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 32,
                       "num_attention_heads": 16, "num_key_value_heads": 4, "head_dim": 256,
                       "max_position_embeddings": 32768},  # fmt: skip
        text_only_classes=("Qwen3_5ForCausalLM",),
    ),
    "mistral3": Wrapper(
        text_type="mistral",
        tower=None,
        projector=_mistral3_projector,
        vision_defaults=_PIXTRAL,
        tie_default=True,
        outer_defaults={"spatial_merge_size": 2, "multimodal_projector_bias": False, "vision_feature_layer": -1},
        text_when_absent={"head_dim": 128, "hidden_size": 5120, "intermediate_size": 32768, "max_position_embeddings": 131072,
                          "num_attention_heads": 32, "num_hidden_layers": 40, "num_key_value_heads": 8,
                          "sliding_window": None, "vocab_size": 131072},  # fmt: skip
        vision_when_absent={**_PIXTRAL, "intermediate_size": 4096, "hidden_size": 1024, "patch_size": 14,
                            "image_size": 1540, "num_hidden_layers": 24, "num_attention_heads": 16},  # fmt: skip
    ),
    "llava": Wrapper(
        text_type="llama",
        tower=None,
        projector=_llava_projector,
        vision_defaults=_CLIP,
        tie_from="outer_or_text",
        outer_defaults={"multimodal_projector_bias": True, "vision_feature_layer": -2},
        vision_when_absent={**_CLIP, "intermediate_size": 4096, "hidden_size": 1024, "patch_size": 14, "image_size": 336,
                            "num_hidden_layers": 24, "num_attention_heads": 16},  # fmt: skip
    ),
    "llava_next": Wrapper(
        text_type="llama",
        tower=None,
        projector=_llava_next_projector,
        vision_defaults=_CLIP,
        outer_defaults={"multimodal_projector_bias": True, "vision_feature_layer": -2},
        vision_when_absent={**_CLIP, "intermediate_size": 4096, "hidden_size": 1024, "patch_size": 14, "image_size": 336,
                            "num_hidden_layers": 24, "num_attention_heads": 16},  # fmt: skip
    ),
    "paligemma": Wrapper(
        text_type="gemma",
        tower=None,
        projector=_paligemma_projector,
        vision_defaults=_SIGLIP,
        tie_default=True,
        outer_defaults={"projection_dim": 2048},
        text_when_absent={"hidden_size": 2048, "num_hidden_layers": 18, "intermediate_size": 16384,
                          "num_attention_heads": 8, "num_key_value_heads": 1, "vocab_size": 257152},  # fmt: skip
        vision_when_absent={**_SIGLIP, "intermediate_size": 4096, "hidden_size": 1152, "patch_size": 14, "image_size": 224,
                            "num_hidden_layers": 27, "num_attention_heads": 16, "vision_use_head": False},  # fmt: skip
    ),
    "idefics3": Wrapper(
        text_type="llama",
        tower=_idefics3_tower,
        projector=_idefics3_projector,
        vision_defaults={"hidden_size": 1152, "intermediate_size": 3072, "num_hidden_layers": 12, "num_channels": 3,
                         "image_size": 224, "patch_size": 32},  # fmt: skip
        outer_defaults={"scale_factor": 2},
    ),
    "lfm2_vl": Wrapper(
        text_type="lfm2",
        tower=None,
        projector=_lfm2_vl_projector,
        vision_defaults=_SIGLIP2,
        tie_default=True,
        outer_defaults={"projector_hidden_size": 2560, "projector_bias": True, "projector_use_layernorm": True,
                        "downsample_factor": 2},  # fmt: skip
    ),
    "glm4v_moe": Wrapper(
        text_type="glm4_moe",
        tower=_glm4v_tower,
        projector=_glm4v_projector,
        vision_defaults={"depth": 24, "hidden_size": 1536, "attention_bias": False, "num_heads": 12, "in_channels": 3,
                         "image_size": 336, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
                         "out_hidden_size": 4096, "intermediate_size": 13696},  # fmt: skip
        text_defaults={"vocab_size": 151424, "hidden_size": 4096, "intermediate_size": 10944, "num_hidden_layers": 46,
                       "num_attention_heads": 96, "num_key_value_heads": 8, "max_position_embeddings": 65536,
                       "attention_bias": True, "moe_intermediate_size": 1408, "num_experts_per_tok": 8,
                       "n_shared_experts": 1, "n_routed_experts": 128, "first_k_dense_replace": 1},  # fmt: skip
        tie_from="outer_or_text",
        text_types={"glm4v_moe_text": "glm4_moe", "glm4v_moe": "glm4_moe"},
        # NOTE: Glm4vMoeTextAttention has no q/k norms, whatever use_qk_norm says.
        text_overrides={"use_qk_norm": False},
    ),
}
# Config class defaults of text models wrappers build with AutoModel (LLaVA's llama / mistral, PaliGemma's
# gemma / gemma2), for the keys published text_configs leave out (llava-1.5's gives little more than vocab_size).
_TEXT_CLASS_DEFAULTS: dict[str, Mapping[str, Any]] = {
    "llama": {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
              "num_attention_heads": 32, "max_position_embeddings": 2048},  # fmt: skip
    "gemma": {"vocab_size": 256000, "hidden_size": 3072, "intermediate_size": 24576, "num_hidden_layers": 28,
              "num_attention_heads": 16, "num_key_value_heads": 16, "head_dim": 256, "max_position_embeddings": 8192},  # fmt: skip
    "gemma2": {"vocab_size": 256000, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
               "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "max_position_embeddings": 8192},  # fmt: skip
    "mistral": {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
                "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 131072},  # fmt: skip
}
# NOTE: SmolVLM (smolvlm) is Idefics3 under another name: the same tower, connector and config defaults.
WRAPPERS["smolvlm"] = WRAPPERS["idefics3"]
# Processor-era spellings of the same model_type.
_ALIASES = {"lfm2-vl": "lfm2_vl"}


def multimodal_type(config: Mapping) -> str | None:
    """The wrapper model_type when `config` is a multimodal checkpoint llmmem counts whole, else None."""
    model_type = config.get("model_type")
    model_type = _ALIASES.get(model_type, model_type) if isinstance(model_type, str) else None
    return model_type if model_type in WRAPPERS else None


def _text_config(config: Mapping, wrapper: Wrapper) -> dict:
    """The text model's config as transformers merges it: text_config (or, for pre-v5 flat configs, the
    top-level keys), the text config class's defaults behind it, under the family llmmem sizes it as."""
    text = config.get("text_config")
    if text is None and wrapper.flat_text:
        text = {k: v for k, v in config.items() if k not in ("vision_config", "model_type", "architectures")}
    elif text is not None and not isinstance(text, Mapping):
        raise ConfigError("config.json's text_config must be a JSON object: give the model's full config.json")
    if text is None:
        text = wrapper.text_when_absent
    text = dict(text)
    published = text.get("model_type")
    family = wrapper.text_types.get(published, published) if published else wrapper.text_type
    defaults = {**_TEXT_CLASS_DEFAULTS.get(family, {}), **wrapper.text_defaults}
    return {**defaults, **text, **wrapper.text_overrides, "model_type": family}


def _tied(config: Mapping, text: Mapping, wrapper: Wrapper) -> bool:
    """Whether transformers ties the LM head to the token embeddings for this wrapper."""
    key = "tie_word_embeddings"
    if wrapper.tie_from == "text":
        return flag(text.get(key), False)
    outer = flag(config.get(key), wrapper.tie_default)
    if wrapper.tie_from == "outer_or_text":
        return outer or flag(text.get(key), False)
    return outer


def multimodal_spec(config: Mapping, text_spec: TextSpec, name: str | None = None) -> ModelSpec:
    """The whole ForConditionalGeneration model: text model (sized by `text_spec`) + vision tower + projector."""
    model_type = multimodal_type(config)
    wrapper = WRAPPERS[model_type]
    outer = _Sub({**config, "model_type": model_type}, wrapper.outer_defaults, "config")
    text = _text_config(config, wrapper)
    text["tie_word_embeddings"] = _tied(config, text, wrapper)
    for key in ("torch_dtype", "dtype", "quantization_config", "_name_or_path"):
        if key in config and key not in text:
            text[key] = config[key]
    text_model = text_spec(text, name=name or config.get("_name_or_path") or model_type)
    architecture = (config.get("architectures") or [None])[0]
    notes = list(text_model.notes)
    if architecture in wrapper.text_only_classes:
        notes.append(f"{architecture} builds the text model only: no vision tower or projector counted")
        return dataclasses.replace(text_model, model_type=model_type, notes=tuple(notes))

    vision_raw = config.get("vision_config")
    if wrapper.tower is None:
        vision_type = (vision_raw or {}).get("model_type") if isinstance(vision_raw, Mapping) else None
        vision_type = vision_type or wrapper.vision_defaults["model_type"]
        if vision_type not in _AUTO_TOWERS:
            raise ConfigError(
                f"llmmem does not know the vision tower {vision_type!r} of this {model_type} config: "
                "give a parameter count like 7B instead"
            )
        tower, defaults = _AUTO_TOWERS[vision_type]
    else:
        tower, defaults = wrapper.tower, wrapper.vision_defaults
    if vision_raw is None:
        vision_raw = wrapper.vision_when_absent or None
    vision = _Sub(vision_raw, defaults, "vision_config")
    tower_part = +tower(vision)
    projector_part = +wrapper.projector(outer, vision, text_model.hidden_size)
    tower_total, projector_total = sum(tower_part.values()), sum(projector_part.values())

    breakdown = {**text_model.breakdown, VISION_PART: tower_total, PROJECTOR_PART: projector_total}
    notes += [
        f"vision tower ({tower_total:,}) and projector ({projector_total:,}) counted: vLLM loads them with the text model",
        "vLLM profiles start-up with a dummy image of the largest size and keeps an encoder cache for image "
        "embeddings; both come out of the memory left for the KV cache",
    ]
    return dataclasses.replace(
        text_model,
        parameters=text_model.parameters + tower_total + projector_total,
        model_type=model_type,
        breakdown=breakdown,
        parts={VISION_PART: dict(tower_part), PROJECTOR_PART: dict(projector_part)},
        notes=tuple(notes),
    )
