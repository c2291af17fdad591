"""Serving formulas to the byte on hand-checkable cases (generic mode, KV cache, weights per format)."""

import json
from fractions import Fraction
from pathlib import Path

import pytest

from llmmem.architectures import spec_from_config
from llmmem.errors import InputError
from llmmem.gpus import get_gpu
from llmmem.quantization import FORMATS, format_from_quantization_config, get_format
from llmmem.engines import estimate_serving as _estimate
from llmmem.serving import (
    ServingOptions,
    kv_cache_bytes,
    kv_cache_bytes_per_token,
    kv_heads_per_rank,
    padded_vocab,
    pp_layer_counts,
    weights_terms,
)
from llmmem.kv_cache import attention_bytes_per_token
from llmmem.spec import ModelSpec

CONFIGS = Path(__file__).resolve().parent.parent / "llmmem" / "catalog" / "configs"
H100 = get_gpu("H100-80GB")


def estimate_serving(spec, options) -> dict:
    return _estimate(spec, options).to_dict()


def spec(name: str) -> ModelSpec:
    return spec_from_config(json.loads((CONFIGS / f"{name}.json").read_text()), name=name)


# --- KV cache per token -------------------------------------------------------------------------


def test_llama_31_8b_kv_bytes_per_token():
    # 32 layers x 2 (K and V) x 8 KV heads x 128 head_dim x 2 bytes
    assert kv_cache_bytes_per_token(spec("meta-llama__Llama-3.1-8B"), tp=1, kv_bytes=2) == 32 * 2 * 8 * 128 * 2 == 131072


def test_kv_split_by_tensor_parallelism_then_replicated():
    llama = spec("meta-llama__Llama-3.1-8B")
    assert kv_cache_bytes_per_token(llama, tp=2, kv_bytes=2) == 65536
    assert kv_cache_bytes_per_token(llama, tp=8, kv_bytes=2) == 32 * 2 * 1 * 128 * 2
    # tp 16 > 8 KV heads: each rank keeps one replicated head, so no further saving
    assert kv_heads_per_rank(llama, 16) == 1
    assert kv_cache_bytes_per_token(llama, tp=16, kv_bytes=2) == 16384


def test_fp8_kv_halves_it():
    assert kv_cache_bytes_per_token(spec("meta-llama__Llama-3.1-8B"), tp=1, kv_bytes=1) == 65536


def test_head_dim_from_config_not_hidden_over_heads():
    gemma = spec("google__gemma-7b")  # hidden 3072, 16 heads, but head_dim 256
    assert attention_bytes_per_token(gemma, tp=1, kv_bytes=2) == 2 * 16 * 256 * 2


def test_mla_one_latent_per_layer_not_split():
    v3 = spec("deepseek-ai__DeepSeek-V3")
    assert kv_cache_bytes_per_token(v3, tp=1, kv_bytes=2) == 61 * (512 + 64) * 2 == 70272
    assert kv_cache_bytes_per_token(v3, tp=8, kv_bytes=2) == 70272


def test_sliding_window_layers_hold_at_most_the_window():
    gemma2 = spec("google__gemma-2-9b")  # 21 sliding (4096) + 21 full layers, 8 KV heads x 256
    per_layer = 2 * 8 * 256 * 2
    assert kv_cache_bytes(gemma2, tokens=8192, sequences=3, tp=1, kv_bytes=2) == 3 * per_layer * (21 * 8192 + 21 * 4096)
    assert kv_cache_bytes(gemma2, tokens=1000, sequences=1, tp=1, kv_bytes=2) == per_layer * 42 * 1000


# --- layout --------------------------------------------------------------------------------------


def test_pp_layer_split_matches_vllm():
    assert pp_layer_counts(32, 2) == [16, 16]
    assert pp_layer_counts(32, 3) == [11, 11, 10]  # remainder to the stages before the last
    assert pp_layer_counts(61, 4) == [15, 15, 16, 15]


def test_vocab_padding_to_64():
    assert padded_vocab(50257) == 50304
    assert padded_vocab(128256) == 128256


# --- weights per format -------------------------------------------------------------------------


TOY = ModelSpec(
    name="toy",
    parameters=1000 * 64 * 2 + 4096 * 4 + 1024 * 4 + 8192 * 4 + 64 * 9,
    num_layers=4,
    hidden_size=64,
    vocab_size=1000,
    num_attention_heads=4,
    num_kv_heads=2,
    head_dim=16,
    intermediate_size=128,
    max_position_embeddings=256,
    breakdown={
        "embedding": 64000,
        "lm_head": 64000,
        "attention_qo": 4096 * 4,
        "attention_kv": 1024 * 4,
        "mlp": 8192 * 4,
        "norms": 64 * 9,
    },
)
LINEAR = 4096 * 4 + 1024 * 4 + 8192 * 4
REST_PADDED = 2 * (1024 * 64 * 2 + 64 * 9)  # bytes; vocab 1000 padded to 1024, embedding + LM head, norms


@pytest.mark.parametrize(
    "fmt, linear_bytes_per_param",
    [
        ("fp16", Fraction(2)),
        ("fp8", Fraction(1)),
        ("w8a8", Fraction(1) + Fraction(4, 4096)),
        ("w4a16", Fraction(1, 2) + Fraction(2, 128)),
        ("awq", Fraction(1, 2) + Fraction(2, 128) + Fraction(1, 256)),
        ("bnb-nf4", Fraction(1, 2) + Fraction(1, 64) + Fraction(4, 64 * 256)),
    ],
)
def test_weights_per_format_linear_layers_only(fmt, linear_bytes_per_param):
    terms = weights_terms(TOY, get_format(fmt), dtype_bytes=2)
    expected = REST_PADDED + sum(-(-count * linear_bytes_per_param // 1) for count in (4096 * 4, 1024 * 4, 8192 * 4))
    assert sum(terms.values()) == expected
    assert terms["embedding"] == 1024 * 64 * 2  # stays 16-bit


def test_weights_fp32():
    assert sum(weights_terms(TOY, FORMATS["fp32"], dtype_bytes=4).values()) == 4 * (LINEAR + 1024 * 64 * 2 + 64 * 9)


def test_weights_tensor_parallel_and_pipeline_shares():
    fp16 = FORMATS["fp16"]
    tp2 = weights_terms(TOY, fp16, 2, tp=2)
    assert tp2["embedding"] == 1024 * 64 and tp2["attention_qo"] == 4096 * 4 and tp2["norms"] == 64 * 9 * 2
    tp4 = weights_terms(TOY, fp16, 2, tp=4)  # 2 KV heads over 4 ranks: one head each, replicated
    assert tp4["attention_kv"] == 1024 * 4 * 2 // 2
    first, last = weights_terms(TOY, fp16, 2, pp=2, stage=0), weights_terms(TOY, fp16, 2, pp=2, stage=1)
    assert first["embedding"] == 1024 * 64 * 2 and first.get("lm_head", 0) == 0
    assert last["lm_head"] == 1024 * 64 * 2 and last.get("embedding", 0) == 0
    assert first["mlp"] == last["mlp"] == 8192 * 2 * 2
    assert first["norms"] == 64 * 4 * 2 and last["norms"] == 64 * 5 * 2  # final norm on the last stage


def test_mxfp4_only_experts():
    oss = spec("openai__gpt-oss-20b")
    terms = weights_terms(oss, FORMATS["mxfp4"], dtype_bytes=2)
    assert terms["experts"] == -(-oss.breakdown["experts"] * Fraction(17, 32) // 1)
    assert terms["attention_qo"] == oss.breakdown["attention_qo"] * 2


def test_checkpoint_formats_from_quantization_config():
    assert format_from_quantization_config(spec("deepseek-ai__DeepSeek-V3").quantization).name == "fp8-block"
    assert format_from_quantization_config(spec("openai__gpt-oss-20b").quantization).name == "mxfp4"
    assert format_from_quantization_config(None) is None
    ct = {"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": {"num_bits": 8, "type": "int"}}}}
    assert format_from_quantization_config(ct).name == "w8a8"
    assert format_from_quantization_config({"quant_method": "gptq", "bits": 4, "sym": True}).name == "w4a16"
    with pytest.raises(InputError):
        format_from_quantization_config({"quant_method": "mystery"})


def test_checkpoint_format_used_when_no_quantization_given():
    out = estimate_serving(spec("openai__gpt-oss-20b"), ServingOptions(gpu=H100, context=4096))
    assert out["weights_format"] == "mxfp4"


# --- generic mode -------------------------------------------------------------------------------


def test_generic_terms_add_up_and_kv_is_context_times_batch():
    llama = spec("meta-llama__Llama-3.1-8B")
    out = estimate_serving(llama, ServingOptions(gpu=H100, context=8192, batch=4))
    assert out["kv_cache_bytes_per_gpu"] == 131072 * 8192 * 4
    assert out["total_bytes_per_gpu"] == (
        out["weights_bytes_per_gpu"] + out["kv_cache_bytes_per_gpu"] + out["activation_bytes"] + out["non_torch_bytes"]
    )
    assert out["fits"] is True
    free = H100.memory_bytes - out["weights_bytes_per_gpu"] - out["activation_bytes"] - out["non_torch_bytes"]
    assert out["kv_cache_tokens"] == free // 131072
    assert out["max_concurrency"] == out["kv_cache_tokens"] // 8192


def test_generic_does_not_fit_when_kv_is_too_big():
    out = estimate_serving(spec("meta-llama__Llama-3.1-8B"), ServingOptions(gpu=H100, context=131072, batch=8))
    assert out["fits"] is False


def test_generic_tp_splits_weights_and_kv():
    llama = spec("meta-llama__Llama-3.1-8B")
    one = estimate_serving(llama, ServingOptions(gpu=H100, context=4096))
    two = estimate_serving(llama, ServingOptions(gpu=H100, context=4096, tp=2))
    assert two["kv_cache_bytes_per_gpu"] * 2 == one["kv_cache_bytes_per_gpu"]
    assert abs(two["weights_bytes_per_gpu"] * 2 - one["weights_bytes_per_gpu"]) < 10**6


@pytest.mark.parametrize(
    "options",
    [
        dict(engine="tgi"),
        dict(tp=3),  # 32 heads
        dict(kv_cache_dtype="int3"),
        dict(quantization="q2"),
    ],
)
def test_bad_options_raise_one_line_input_error(options):
    with pytest.raises(InputError) as info:
        estimate_serving(spec("meta-llama__Llama-3.1-8B"), ServingOptions(gpu=H100, **options))
    assert "\n" not in str(info.value) and ":" in str(info.value)


def test_bare_parameter_count_refused():
    with pytest.raises(InputError):
        estimate_serving(ModelSpec(name="7B", parameters=7 * 10**9), ServingOptions(gpu=H100))
