"""KV bytes per token and fixed state bytes per sequence, per layer kind, derived by hand from the
published configs' dims (tests/fixtures/configs_new, byte-identical to the published config.json files)."""

import json
from pathlib import Path

import pytest

from llmmem.architectures import spec_from_config
from llmmem.errors import InputError
from llmmem.kv_cache import (
    FP8_DS_MLA_BYTES_PER_TOKEN,
    attention_bytes_per_token,
    cache_layout,
    indexer_bytes_per_token,
    state_tensors,
)
from llmmem.spec import CHUNKED_ATTENTION, FULL_ATTENTION, LINEAR_ATTENTION, MAMBA, SHORT_CONV, SLIDING_ATTENTION

NEW = Path(__file__).resolve().parent / "fixtures" / "configs_new"
CATALOG = Path(__file__).resolve().parent.parent / "llmmem" / "catalog" / "configs"

# LiquidAI/LFM2-1.2B config.json (huggingface.co/LiquidAI/LFM2-1.2B), the fields that size the cache.
LFM2_1_2B = {
    "architectures": ["Lfm2ForCausalLM"], "model_type": "lfm2", "hidden_size": 2048, "conv_dim": 2048,
    "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 65536,
    "conv_L_cache": 3, "conv_bias": False, "block_ff_dim": 12288, "block_multiple_of": 256,
    "block_ffn_dim_multiplier": 1.0, "block_auto_adjust_ff_dim": True, "tie_embedding": True,
    "max_position_embeddings": 128000, "torch_dtype": "bfloat16",
    "layer_types": ["conv", "conv", "full_attention", "conv", "conv", "full_attention", "conv", "conv",
                    "full_attention", "conv", "full_attention", "conv", "full_attention", "conv", "full_attention", "conv"],
}


def spec(name, folder=NEW):
    return spec_from_config(json.loads((folder / f"{name}.json").read_text()), name=name)


def test_qwen3_next_gated_delta_net_and_attention():
    s = spec("Qwen__Qwen3-Next-80B-A3B-Thinking")
    # 48 layers, every 4th full attention: 12 attention, 36 gated delta-net.
    # attention: 2 (K, V) x 2 KV heads x head_dim 256 x 2 bytes (bf16) = 2048 bytes per token and layer.
    # gated delta-net: conv (4 - 1) x (2 x 16 x 128 + 32 x 128 = 8192) x 2 bytes = 49,152;
    # recurrent state 32 v-heads x 128 x 128 x 2 bytes (no mamba_ssm_dtype in the config: bf16) = 1,048,576.
    out = cache_layout(s)
    assert out.kind(FULL_ATTENTION).layers == 12 and out.kind(FULL_ATTENTION).bytes_per_token == 2048
    gdn = out.kind(LINEAR_ATTENTION)
    assert gdn.layers == 36 and [t.shape for t in gdn.state] == [(3, 8192), (32, 128, 128)]
    assert gdn.state_bytes == 49_152 + 1_048_576 == 1_097_728
    assert out.kv_bytes_per_token == 12 * 2048 == 24_576
    assert out.state_bytes_per_sequence == 36 * 1_097_728 == 39_518_208
    # One sequence of 1000 tokens: 1000 tokens of KV in 12 layers + 36 states.
    assert out.bytes_per_sequence(1000) == 1000 * 24_576 + 39_518_208


def test_qwen3_next_under_tensor_parallelism():
    s = spec("Qwen__Qwen3-Next-80B-A3B-Thinking")
    # tp=4: 2 KV heads < 4 ranks -> one replicated head per rank: 2 x 1 x 256 x 2 = 1024 bytes.
    # conv 8192 / 4 = 2048 channels: 3 x 2048 x 2 = 12,288; recurrent 32 / 4 = 8 heads: 8 x 128 x 128 x 2 = 262,144.
    out = cache_layout(s, tp=4)
    assert out.kind(FULL_ATTENTION).bytes_per_token == 1024
    assert out.kind(LINEAR_ATTENTION).state_bytes == 12_288 + 262_144 == 274_432


def test_qwen3_5_recurrent_state_in_float32():
    s = spec("Qwen__Qwen3.5-27B")
    # The config says "mamba_ssm_dtype": "float32" (vLLM's Qwen3_5 config hook copies it to
    # mamba_ssm_cache_dtype). conv 3 x (2 x 16 x 128 + 48 x 128 = 10,240) x 2 = 61,440;
    # recurrent 48 x 128 x 128 x 4 = 3,145,728. Attention: 2 x 4 x 256 x 2 = 4096 per token, 16 layers.
    out = cache_layout(s)
    assert s.state_dtype == "float32"
    assert out.kind(LINEAR_ATTENTION).state_bytes == 61_440 + 3_145_728 == 3_207_168
    assert out.kind(LINEAR_ATTENTION).layers == 48
    assert out.kv_bytes_per_token == 16 * 4096 == 65_536
    # --mamba-ssm-cache-dtype bfloat16 halves the recurrent state.
    assert cache_layout(s, state_dtype="bfloat16").kind(LINEAR_ATTENTION).state_bytes == 61_440 + 1_572_864


def test_nemotron_h_mamba2_with_float32_ssm_state():
    s = spec("nvidia__NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    # hybrid_override_pattern: 23 M (Mamba-2), 23 E (MoE, no cache), 6 * (attention).
    # Mamba-2: 64 heads x 64 head_dim = 4096 inner, 8 groups, state 128, conv 4.
    # conv (4 - 1) x (4096 + 2 x 8 x 128 = 6144) x 2 = 36,864; ssm 64 x 64 x 128 x 4 (mamba_ssm_cache_dtype
    # float32) = 2,097,152. Attention: 2 x 2 KV heads x 128 x 2 = 1024 per token.
    out = cache_layout(s)
    mamba = out.kind(MAMBA)
    assert mamba.layers == 23 and mamba.state_bytes == 36_864 + 2_097_152 == 2_134_016
    assert out.kind(FULL_ATTENTION).layers == 6 and out.kv_bytes_per_token == 6 * 1024
    assert out.state_bytes_per_sequence == 23 * 2_134_016 == 49_082_368
    assert sum(k.layers for k in out.kinds) == 29  # the 23 MoE blocks keep nothing


def test_mamba2_groups_replicated_when_tp_does_not_divide_them():
    s = spec("nvidia__NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    # tp=16 > 8 groups: groups become 8 + (16 - 8) = 16 (extra_groups_for_head_shards), so the conv
    # keeps (4096 + 2 x 16 x 128) / 16 = 512 channels per rank; ssm 64 / 16 = 4 heads.
    conv, ssm = state_tensors(s, MAMBA, tp=16, dtype_bytes=2)
    assert conv.shape == (3, 512) and ssm.shape == (4, 64, 128) and ssm.dtype_bytes == 4


def test_jamba_mamba1():
    s = spec("ai21labs__AI21-Jamba-1.5-Mini")
    # Attention every 8th layer from 4: 4 attention, 28 Mamba. Mamba 1: d_inner 2 x 4096 = 8192, d_state 16,
    # d_conv 4: conv 3 x 8192 x 2 = 49,152; ssm 8192 x 16 x 2 = 262,144. Attention 2 x 8 x 128 x 2 = 4096.
    out = cache_layout(s)
    assert out.kind(MAMBA).layers == 28 and out.kind(MAMBA).state_bytes == 311_296
    assert out.kind(FULL_ATTENTION).layers == 4 and out.kv_bytes_per_token == 16_384


def test_mamba_codestral_has_no_kv_at_all():
    s = spec("mistralai__Mamba-Codestral-7B-v0.1")
    # 64 Mamba-2 layers: inner 8192, 8 groups, state 128, 128 heads x 64.
    # conv 3 x (8192 + 2 x 8 x 128 = 10,240) x 2 = 61,440; ssm 128 x 64 x 128 x 2 = 2,097,152.
    out = cache_layout(s)
    assert out.kv_bytes_per_token == 0
    assert out.state_bytes_per_sequence == 64 * (61_440 + 2_097_152) == 138_149_888
    assert out.bytes_per_sequence(100_000) == out.bytes_per_sequence(1) == 138_149_888


def test_lfm2_short_conv():
    s = spec_from_config(LFM2_1_2B, name="LFM2-1.2B")
    # 10 conv layers, 6 attention. Short conv: (L_cache 3 - 1) x 2048 x 2 = 8192 per layer.
    # Attention: 2 x 8 x (2048 / 32 = 64) x 2 = 2048 per token.
    out = cache_layout(s)
    assert out.kind(SHORT_CONV).layers == 10 and out.kind(SHORT_CONV).state_bytes == 8192
    assert out.kind(FULL_ATTENTION).layers == 6 and out.kv_bytes_per_token == 6 * 2048
    assert out.kind(SHORT_CONV).state[0].shape == (2, 2048)
    assert cache_layout(s, tp=2).kind(SHORT_CONV).state[0].shape == (2, 1024)


def test_gemma3_sliding_layers_hold_the_window():
    s = spec("google__gemma-3-4b-it")
    # 34 layers, 5:1 local:global: 29 sliding (window 1024), 5 full. 2 x 4 KV heads x 256 x 2 = 4096 per token.
    out = cache_layout(s)
    sliding, full = out.kind(SLIDING_ATTENTION), out.kind(FULL_ATTENTION)
    assert (sliding.layers, sliding.window, full.layers, full.window) == (29, 1024, 5, None)
    assert out.kv_bytes_per_token == 34 * 4096 and out.full_kv_bytes_per_token == 5 * 4096
    # 32k tokens: the full layers keep 32,768 tokens, the sliding ones 1024.
    assert out.bytes_per_sequence(32_768) == 5 * 32_768 * 4096 + 29 * 1024 * 4096
    assert out.bytes_per_sequence(500) == 34 * 500 * 4096


def test_llama4_chunked_layers_hold_one_chunk():
    s = spec("meta-llama__Llama-4-Scout-17B-16E-Instruct")
    # 48 layers, every 4th without RoPE is global: 36 chunked (chunk 8192), 12 full; 2 x 8 x 128 x 2 = 4096.
    out = cache_layout(s)
    chunked = out.kind(CHUNKED_ATTENTION)
    assert (chunked.layers, chunked.window, out.kind(FULL_ATTENTION).layers) == (36, 8192, 12)
    assert out.bytes_per_sequence(100_000) == 12 * 100_000 * 4096 + 36 * 8192 * 4096


def test_deepseek_v32_latent_plus_indexer_keys():
    s = spec("deepseek-ai__DeepSeek-V3.2-Exp")
    # MLA latent 512 + rope 64 = 576 values x 2 bytes = 1152; indexer key: 128 fp8 values + one fp32
    # scale per 128 = 132 bytes. Per token and layer 1284, 61 layers, not split by tensor parallelism.
    assert indexer_bytes_per_token(s) == 132
    assert attention_bytes_per_token(s, tp=1, kv_bytes=2) == 1152 + 132 == 1284
    assert cache_layout(s).kv_bytes_per_token == 61 * 1284 == 78_324
    assert cache_layout(s, tp=8).kv_bytes_per_token == 78_324
    # fp8 KV cache: vLLM switches DeepSeek-V3.2 to "fp8_ds_mla": 656 bytes per token, the indexer unchanged.
    assert attention_bytes_per_token(s, tp=1, kv_bytes=1, kv_cache_dtype="fp8") == FP8_DS_MLA_BYTES_PER_TOKEN + 132 == 788


def test_mla_without_indexer_and_plain_gqa():
    v3 = spec("deepseek-ai__DeepSeek-V3", CATALOG)
    assert attention_bytes_per_token(v3, tp=1, kv_bytes=2) == 576 * 2  # no indexer in V3
    llama = spec("meta-llama__Llama-3.1-8B", CATALOG)
    out = cache_layout(llama, tp=2)
    # 32 layers x 2 x (8 / 2 = 4 heads) x 128 x 2 bytes; no state.
    assert out.kv_bytes_per_token == 32 * 2 * 4 * 128 * 2 and out.state_bytes_per_sequence == 0


def test_pipeline_stage_range_counts_only_its_layers():
    s = spec("Qwen__Qwen3-Next-80B-A3B-Thinking")
    # Layers 0..23: layers 3, 7, 11, 15, 19, 23 are attention (6), the other 18 gated delta-net.
    out = cache_layout(s, layers=range(0, 24))
    assert out.kind(FULL_ATTENTION).layers == 6 and out.kind(LINEAR_ATTENTION).layers == 18


def test_encoder_keeps_nothing():
    s = spec("google-bert__bert-base-multilingual-cased")
    out = cache_layout(s)
    assert out.kinds == () and out.kv_bytes_per_token == 0 and out.state_bytes_per_sequence == 0


def test_tp_that_does_not_divide_the_state_is_refused():
    s = spec("ai21labs__AI21-Jamba-1.5-Mini")
    with pytest.raises(InputError, match="does not divide the 8192 Mamba inner channels"):
        cache_layout(s, tp=3)
    with pytest.raises(InputError, match="unknown state dtype"):
        cache_layout(s, state_dtype="int3")
