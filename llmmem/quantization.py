"""Weight storage formats of served checkpoints: bytes per parameter of the linear layers.

A quantized checkpoint stores its linear-layer weights (spec.QUANTIZABLE_KEYS) in a low-bit format
plus the scales (and zero points) that format needs; embeddings, norms, the LM head and MoE routers
stay in the 16-bit serving dtype. Each format below says where its overhead comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping

from .errors import InputError


@dataclass(frozen=True)
class WeightFormat:
    name: str
    label: str
    # Bytes per linear-layer parameter, scales and zero points included (exact fraction).
    bytes_per_parameter: Fraction
    # True when only MoE expert weights use the format (MXFP4 in gpt-oss); the rest stays 16-bit.
    experts_only: bool = False
    note: str = ""


def _f(numerator: int, denominator: int = 1) -> Fraction:
    return Fraction(numerator, denominator)


# NOTE: group formats store one scale per `group` input elements of each output row; per-channel
# formats one fp32 scale per output row. The spec has parameter counts, not matrix shapes, so a
# per-channel scale is charged per `_CHANNEL_ROW` parameters (a 4096-wide row): 0.1% of the weights.
_CHANNEL_ROW = 4096

FORMATS: dict[str, WeightFormat] = {
    f.name: f
    for f in (
        WeightFormat("fp32", "fp32", _f(4)),
        WeightFormat("fp16", "16-bit (bf16/fp16)", _f(2)),
        WeightFormat(
            "fp8", "FP8 e4m3, per-tensor scale (vLLM online --quantization fp8)", _f(1),
            note="one fp32 scale per weight matrix (vllm fp8.py Fp8LinearMethod, dynamic activation scale)",
        ),
        WeightFormat(
            "fp8-dynamic", "FP8 e4m3, per-channel scales (compressed-tensors FP8_DYNAMIC)", _f(1) + _f(4, _CHANNEL_ROW),
            note="fp32 weight_scale per output channel",
        ),
        WeightFormat(
            "fp8-block", "FP8 e4m3, 128x128 block scales (DeepSeek-V3 weight_block_size)", _f(1) + _f(4, 128 * 128),
            note="fp32 weight_scale_inv per 128x128 block",
        ),
        WeightFormat(
            "w8a8", "INT8 W8A8, per-channel scales (compressed-tensors)", _f(1) + _f(4, _CHANNEL_ROW),
            note="int8 weights + fp32 weight_scale per output channel",
        ),
        WeightFormat(
            "w4a16", "INT4 W4A16 symmetric, group 128 (GPTQ / compressed-tensors, Marlin)", _f(1, 2) + _f(2, 128),
            note="packed int4 + fp16 scale per 128 inputs; symmetric: no zero points kept (gptq_marlin)",
        ),
        WeightFormat(
            "gptq", "GPTQ INT4 group 128 (asymmetric zero points)", _f(1, 2) + _f(2, 128) + _f(1, 2 * 128),
            note="packed int4 + fp16 scale + packed int4 zero per 128 inputs",
        ),
        WeightFormat(
            "awq", "AWQ INT4 group 128", _f(1, 2) + _f(2, 128) + _f(1, 2 * 128),
            note="packed int4 + fp16 scale + packed int4 zero per 128 inputs",
        ),
        WeightFormat(
            "bnb-nf4", "bitsandbytes NF4, block 64, double quant", _f(1, 2) + _f(1, 64) + _f(4, 64 * 256),
            note="4-bit codes + uint8 absmax per 64 (double quant) + fp32 scale per 256 absmax",
        ),
        WeightFormat(
            "bnb-nf4-single", "bitsandbytes NF4, block 64, no double quant", _f(1, 2) + _f(4, 64),
            note="4-bit codes + fp32 absmax per 64",
        ),
        WeightFormat(
            "mxfp4", "MXFP4 experts (e2m1 + one e8m0 scale per 32)", _f(1, 2) + _f(1, 32), experts_only=True,
            note="MoE expert weights only; attention, router, embeddings stay 16-bit (gpt-oss modules_to_not_convert)",
        ),
    )
}

ALIASES = {
    "bf16": "fp16", "bfloat16": "fp16", "float16": "fp16", "half": "fp16", "float32": "fp32",
    "int8": "w8a8", "gptq_marlin": "w4a16", "int4": "w4a16", "awq_marlin": "awq", "nf4": "bnb-nf4",
    "bitsandbytes": "bnb-nf4", "fp8_dynamic": "fp8-dynamic", "fp8-channel": "fp8-dynamic",
}


def get_format(name: str) -> WeightFormat:
    key = name.strip().lower()
    fmt = FORMATS.get(ALIASES.get(key, key))
    if fmt is None:
        raise InputError(f"unknown quantization {name!r}: use one of {', '.join(FORMATS)}")
    return fmt


def format_from_quantization_config(config: Mapping | None) -> WeightFormat | None:
    """The format a checkpoint's config.json `quantization_config` describes, or None when unquantized.

    Unknown methods raise, so an estimate never silently sizes a quantized checkpoint as 16-bit.
    """
    if not config:
        return None
    method = str(config.get("quant_method", "")).lower()
    if method == "fp8":
        return FORMATS["fp8-block"] if config.get("weight_block_size") else FORMATS["fp8"]
    if method == "mxfp4":
        return FORMATS["mxfp4"]
    if method in ("gptq", "gptq_marlin"):
        return FORMATS["w4a16"] if config.get("sym", True) else FORMATS["gptq"]
    if method in ("awq", "awq_marlin"):
        return FORMATS["awq"]
    if method == "bitsandbytes":
        if config.get("load_in_8bit"):
            return FORMATS["w8a8"]
        return FORMATS["bnb-nf4"] if config.get("bnb_4bit_use_double_quant") else FORMATS["bnb-nf4-single"]
    if method == "compressed-tensors":
        for group in (config.get("config_groups") or {}).values():
            weights = group.get("weights") or {}
            bits, kind = weights.get("num_bits"), weights.get("type")
            if bits == 8 and kind == "float":
                return FORMATS["fp8-block"] if weights.get("strategy") == "block" else FORMATS["fp8-dynamic"]
            if bits == 8:
                return FORMATS["w8a8"]
            if bits == 4:
                return FORMATS["w4a16"] if weights.get("symmetric", True) else FORMATS["gptq"]
    raise InputError(
        f"quantization_config with quant_method {method or '?'!r} is not supported: choose the weights format (quantization) explicitly"
    )
