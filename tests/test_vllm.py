"""vLLM mode: the start-up arithmetic vLLM 0.19 does, checked term by term."""

import json
from collections import Counter
from pathlib import Path

import pytest

from llmmem.architectures import spec_from_config
from llmmem.engines.vllm_kv import KVCacheGroup, group_blocks, group_layers
from llmmem.engines.vllm import (
    BLOCK_SIZE,
    FORWARD_WORKSPACE_BYTES,
    mla_dequantized_up_proj_bytes,
    mla_prefill_workspace_tokens,
    mla_profile_bytes,
    moe_workspace_bytes,
    profile_peak_bytes,
    rotary_cache_bytes,
    sampler_peak_bytes,
    vllm_defaults,
)
from llmmem.gpus import get_gpu
from llmmem.quantization import get_format
from llmmem.engines import estimate_serving
from llmmem.serving import ServingOptions, forward_activation_bytes

CONFIGS = Path(__file__).resolve().parent.parent / "llmmem" / "catalog" / "configs"
H100 = get_gpu("H100-80GB")
GiB = 2**30


def spec(name):
    return spec_from_config(json.loads((CONFIGS / f"{name}.json").read_text()), name=name)


def vllm(name, **kw):
    kw.setdefault("gpu_memory_utilization", 0.95)
    kw.setdefault("max_model_len", 8192)
    return estimate_serving(spec(name), ServingOptions(gpu=H100, engine="vllm", **kw)).to_dict()


def test_required_keys_present():
    out = vllm("meta-llama__Llama-3.1-8B")
    for key in (
        "weights_bytes_per_gpu", "activation_bytes", "non_torch_bytes", "kv_cache_bytes_per_gpu",
        "kv_cache_bytes_per_token", "kv_cache_tokens", "max_concurrency", "fits",
    ):
        assert key in out
    assert isinstance(out["fits"], bool) and isinstance(out["kv_cache_tokens"], int)


def test_available_kv_is_requested_minus_non_kv():
    out = vllm("meta-llama__Llama-3.1-8B")
    assert out["requested_memory_bytes"] == int(0.95 * H100.memory_bytes)
    assert out["non_kv_bytes"] == out["weights_bytes_per_gpu"] + out["activation_bytes"] + out["non_torch_bytes"]
    assert out["kv_cache_bytes_per_gpu"] == out["requested_memory_bytes"] - out["non_kv_bytes"]


def test_kv_tokens_are_whole_blocks_of_all_layers():
    out = vllm("meta-llama__Llama-3.1-8B")
    page = BLOCK_SIZE * 2 * 8 * 128 * 2  # one block of one layer
    blocks = out["kv_cache_bytes_per_gpu"] // (page * 32)
    assert out["kv_cache_tokens"] == blocks * BLOCK_SIZE
    assert out["max_concurrency"] == round(blocks / (8192 // BLOCK_SIZE), 2)


def test_weights_llama_31_8b_bf16_plus_rotary_cache():
    out = vllm("meta-llama__Llama-3.1-8B")
    # 8,030,261,248 parameters x 2 bytes + cos/sin cache 131072 positions x 128 x 2 bytes
    assert out["weights_bytes_per_gpu"] == 8030261248 * 2 + 131072 * 128 * 2


def test_fp8_kv_doubles_tokens():
    auto, fp8 = vllm("meta-llama__Llama-3.1-8B"), vllm("meta-llama__Llama-3.1-8B", kv_cache_dtype="fp8")
    assert fp8["kv_cache_bytes_per_token"] * 2 == auto["kv_cache_bytes_per_token"]
    assert abs(fp8["kv_cache_tokens"] - 2 * auto["kv_cache_tokens"]) <= BLOCK_SIZE


def test_max_model_len_does_not_change_the_pool_only_concurrency():
    short, long = vllm("meta-llama__Llama-3.1-8B", max_model_len=2048), vllm("meta-llama__Llama-3.1-8B")
    assert short["kv_cache_tokens"] == long["kv_cache_tokens"]
    assert short["max_concurrency"] == pytest.approx(4 * long["max_concurrency"], rel=1e-3)


def test_tp_adds_communication_buffers_and_splits_weights():
    one, two = vllm("meta-llama__Llama-3.1-8B"), vllm("meta-llama__Llama-3.1-8B", tp=2)
    assert two["non_torch_bytes"] > 2 * GiB > one["non_torch_bytes"]
    assert two["kv_cache_bytes_per_token"] * 2 == one["kv_cache_bytes_per_token"]
    assert two["weights_bytes_per_gpu"] < one["weights_bytes_per_gpu"] * 0.51


def test_pipeline_tokens_follow_the_smallest_stage():
    out = vllm("meta-llama__Llama-3.1-8B", pp=2)
    first, last = out["stages"]
    assert last["sampler_peak_bytes"] > 0 and first["sampler_peak_bytes"] == 0
    assert out["kv_cache_tokens"] == min(first["num_blocks"], last["num_blocks"]) * BLOCK_SIZE


def test_mla_kv_tokens():
    out = vllm("deepseek-ai__DeepSeek-V2-Lite")
    assert out["kv_cache_bytes_per_token"] == 27 * (512 + 64) * 2


def kv_groups(kinds: list[str]) -> tuple[int, int, dict[str, int]]:
    """(layers per group, groups, groups per kind) of vLLM's uniform-page grouping."""
    size, groups = group_layers(kinds)
    return size, len(groups), dict(Counter(kind for kind, _ in groups))


def test_hybrid_grouping_rules():
    assert kv_groups(["sliding_attention", "full_attention"] * 21) == (21, 2, {"sliding_attention": 1, "full_attention": 1})
    gemma3 = (["sliding_attention"] * 5 + ["full_attention"]) * 4 + ["sliding_attention"] * 2  # 22 + 4
    assert kv_groups(gemma3) == (4, 7, {"sliding_attention": 6, "full_attention": 1})
    assert kv_groups(["sliding_attention"] * 12 + ["full_attention"] * 13)[0:2] == (13, 2)
    assert kv_groups(["full_attention"] * 32) == (32, 1, {"full_attention": 1})


def test_gemma2_tokens_count_every_layer():
    # vLLM 0.19 logs 168,880 tokens for gemma-2-9b: the pool divided by all 42 layers' pages, as if
    # every layer were full attention (2 groups of 21 layers share each page).
    out = vllm("google__gemma-2-9b")
    assert out["kv_cache_tokens"] == out["kv_cache_bytes_per_gpu"] // (BLOCK_SIZE * 8192 * 21) // 2 * BLOCK_SIZE


def test_sliding_window_request_needs_fewer_blocks():
    oss = spec("openai__gpt-oss-20b")  # window 128
    assert group_blocks(oss, KVCacheGroup("sliding_attention", (), BLOCK_SIZE), 131072, 8192) == -(-(127 + 8192) // 16) + 1
    assert group_blocks(oss, KVCacheGroup("full_attention", (), BLOCK_SIZE), 131072, 8192) == 131072 // 16


def test_rotary_cache_only_for_rotary_models():
    assert rotary_cache_bytes(spec("facebook__opt-125m"), 2) == 0
    assert rotary_cache_bytes(spec("meta-llama__Llama-3.1-8B"), 2) == 131072 * 128 * 2


def test_vllm_serve_defaults():
    assert vllm_defaults(H100.memory_bytes, "H100-80GB") == (8192, 1024)
    assert vllm_defaults(get_gpu("A100-80GB").memory_bytes, "A100-80GB") == (2048, 256)
    assert vllm_defaults(get_gpu("L4-24GB").memory_bytes, "L4-24GB") == (2048, 256)


def test_too_big_does_not_fit():
    out = vllm("meta-llama__Llama-3.1-70B")
    assert out["fits"] is False and out["kv_cache_tokens"] == 0
    assert vllm("meta-llama__Llama-3.1-70B", tp=4)["fits"] is True


def test_fused_moe_workspace_bytes():
    # DeepSeek-V2-Lite, 8192 tokens, top-6, expert intermediate 1408, hidden 2048, bf16:
    # workspace13 = 8192 x 6 x max(1408, 2048), workspace2 = 8192 x 6 x max(2 x 1408, 2048)
    assert moe_workspace_bytes(spec("deepseek-ai__DeepSeek-V2-Lite"), 8192, 2, 1) == (8192 * 6 * 2048 + 8192 * 6 * 2816) * 2
    # Mixtral tp=2: top-2, intermediate 14336 / 2 = 7168 per rank, hidden 4096
    assert moe_workspace_bytes(spec("mistralai__Mixtral-8x7B-v0.1"), 8192, 2, 2) == (8192 * 2 * 7168 + 8192 * 2 * 14336) * 2
    assert moe_workspace_bytes(spec("meta-llama__Llama-3.1-8B"), 8192, 2, 1) == 0


def test_moe_workspace_stays_allocated_through_the_sampler_run():
    ds = spec("deepseek-ai__DeepSeek-V2-Lite")
    peak = profile_peak_bytes(ds, 8192, 1024, 2, 1, True, 8192, 1024)
    workspace = moe_workspace_bytes(ds, 8192, 2, 1)
    assert peak["moe_workspace_bytes"] == workspace
    assert peak["sampler_bytes"] == sampler_peak_bytes(ds, 8192, 1024, 2, 1) + workspace
    # the MoE moment of the forward: workspace + input, residual and output of 8192 x 2048
    assert peak["forward_bytes"] >= workspace + 8192 * 3 * 2048 * 2 + FORWARD_WORKSPACE_BYTES


def test_dense_profile_peak_is_unchanged_by_moe_terms():
    llama = spec("meta-llama__Llama-3.1-8B")
    peak = profile_peak_bytes(llama, 8192, 1024, 2, 1, False)
    assert peak["forward_bytes"] == forward_activation_bytes(llama, 8192, 2, 1) + FORWARD_WORKSPACE_BYTES
    assert peak["moe_workspace_bytes"] == 0


def test_forward_activation_without_experts():
    mixtral = spec("mistralai__Mixtral-8x7B-v0.1")
    # attention only: 2 x hidden + (q + k + v) / tp + o / tp, per token
    attention = 2 * 4096 + (4096 + 2 * 8 * 128) / 2 + 4096 / 2
    assert forward_activation_bytes(mixtral, 8192, 2, 2, include_moe=False) == int(8192 * attention * 2)
    assert forward_activation_bytes(mixtral, 8192, 2, 2) > forward_activation_bytes(mixtral, 8192, 2, 2, include_moe=False)


def test_mla_prefill_workspace_tokens():
    assert mla_prefill_workspace_tokens(8192, 1024) == 65536  # 8 x 8192 = 4 x 1024 x 16
    assert mla_prefill_workspace_tokens(2048, 256) == 16384  # 4 x 256 x 16
    assert mla_prefill_workspace_tokens(131072, 1024) == 64 * 1024  # capped
    assert mla_prefill_workspace_tokens(1024, 8192) == 8192 * 16  # at least one block per sequence


def test_mla_profile_buffer_bytes():
    ds = spec("deepseek-ai__DeepSeek-V2-Lite")
    # 65536 tokens x 16 heads x (128 nope + 128 v) x 2 bytes = 512 MiB, split by heads under tp
    assert mla_profile_bytes(ds, 8192, 1024, 2, 1) == 65536 * 16 * 256 * 2
    assert mla_profile_bytes(ds, 8192, 1024, 2, 2) == 65536 * 8 * 256 * 2
    assert mla_profile_bytes(spec("meta-llama__Llama-3.1-8B"), 8192, 1024, 2, 1) == 0


def test_mla_up_projection_copies_only_for_quantized_checkpoints():
    ds = spec("deepseek-ai__DeepSeek-V2-Lite")
    assert mla_dequantized_up_proj_bytes(ds, get_format("fp16"), 2, 1, 27) == 0  # W_UK/W_UV are views
    # FP8: a bf16 copy per layer of 512 (kv_lora_rank) x 16 heads x (128 + 128)
    assert mla_dequantized_up_proj_bytes(ds, get_format("fp8"), 2, 1, 27) == 27 * 512 * 16 * 256 * 2
    assert mla_dequantized_up_proj_bytes(ds, get_format("fp8"), 2, 4, 27) == 27 * 512 * 4 * 256 * 2
    bf16, fp8 = vllm("deepseek-ai__DeepSeek-V2-Lite"), vllm("deepseek-ai__DeepSeek-V2-Lite", quantization="fp8")
    assert bf16["weights_breakdown_bytes"]["mla_up_proj_copies"] == 0
    assert fp8["weights_breakdown_bytes"]["mla_up_proj_copies"] == 27 * 512 * 16 * 256 * 2
