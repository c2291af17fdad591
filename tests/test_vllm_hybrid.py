"""vLLM 0.19's hybrid KV cache allocator: one page size for every group, layer groups, blocks, the
"GPU KV cache size" and "Maximum concurrency" figures. Every expected number is derived by hand below."""

import json
from pathlib import Path

from llmmem.architectures import spec_from_config
from llmmem.engines.vllm_kv import (
    STATE_KIND,
    cdiv,
    group_layers,
    hybrid_page_sizes,
    kv_cache_config,
)
from llmmem.spec import FULL_ATTENTION, LINEAR_ATTENTION, GatedDeltaNet, ModelSpec

NEW = Path(__file__).resolve().parent / "fixtures" / "configs_new"
GiB = 2**30


def spec(name):
    return spec_from_config(json.loads((NEW / f"{name}.json").read_text()), name=name)


def test_nemotron_3_nano_page_size_arithmetic_on_h100():
    """NVIDIA-Nemotron-3-Nano-30B-A3B, bf16, tp=1 (one H100), vLLM defaults (no prefix caching).

    Mamba page (one layer's state): conv 3 x 6144 x 2 = 36,864 + ssm 64 x 64 x 128 x 4 = 2,097,152
    -> 2,134,016 bytes. Attention per token: 2 x 2 KV heads x 128 x 2 bytes = 1024.
    attn_block_size = 16 x cdiv(2,134,016, 16 x 1024 = 16,384) = 16 x 131 = 2096 tokens
    ("Setting attention block size to 2096 tokens"); attention page 2096 x 1024 = 2,146,304;
    the Mamba page is padded by 12,288 bytes (0.58%) to the same 2,146,304.
    Groups: 6 attention and 23 Mamba layers; 23 >= 1.5 x 6, so group_size = 6: 1 attention group and
    cdiv(23, 6) = 4 Mamba groups (one padding layer): 5 groups, 6 pools of 2,146,304-byte pages.
    """
    s = spec("nvidia__NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    cfg = kv_cache_config(s, max_model_len=262_144)
    assert cfg.pages.state_page_bytes == 2_134_016
    assert cfg.pages.block_size == 16 * cdiv(2_134_016, 16 * 1024) == 2096
    assert cfg.page_bytes == 2096 * 1024 == 2_146_304
    assert cfg.pages.state_padding_bytes == 12_288
    assert cfg.group_size == 6 and cfg.groups_per_kind == {STATE_KIND: 4, FULL_ATTENTION: 1}
    assert cfg.padding_layers == 1
    # Round-robin: the 23 Mamba layers dealt over 4 groups give 6, 6, 6, 5 layers.
    assert sorted(len(g.layers) for g in cfg.groups if g.kind == STATE_KIND) == [5, 6, 6, 6]

    # With 40 GiB left for the cache: num_blocks = 40 GiB // 2,146,304 // 6 = 3335.
    available = 40 * GiB
    blocks = cfg.num_blocks(available)
    assert blocks == 40 * GiB // 2_146_304 // 6 == 3335
    # "GPU KV cache size": 3335 // 5 groups x 2096 tokens = 667 x 2096 = 1,398,032 tokens.
    assert cfg.tokens(blocks) == 667 * 2096 == 1_398_032
    # One 262,144-token request: cdiv(262,144, 2096) = 126 attention blocks + 4 state blocks = 130.
    assert cfg.blocks_per_request(s, 262_144, 8192) == 126 + 4
    assert round(cfg.max_concurrency(s, blocks, 262_144, 8192), 2) == round(3335 / 130, 2) == 25.65
    # A short 8192-token request: 4 + 4 = 8 blocks -> 416.88x.
    assert cfg.max_concurrency(s, blocks, 8192, 8192) == 3335 / 8


def test_qwen3_next_page_sizes_tp1_and_tp4():
    """Qwen3-Next-80B-A3B: 12 attention, 36 gated delta-net layers.

    tp=1: state 1,097,728 bytes, attention 2048 per token: block 16 x cdiv(1,097,728, 32,768) = 16 x 34 = 544,
    page 544 x 2048 = 1,114,112 (state padded by 16,384). tp=4 (what an H100 node needs in bf16): state
    274,432, attention 1024 per token: block 16 x cdiv(274,432, 16,384) = 16 x 17 = 272, page 278,528.
    Groups: 36 >= 1.5 x 12, group_size 12: 3 linear-attention groups + 1 attention group.
    """
    s = spec("Qwen__Qwen3-Next-80B-A3B-Thinking")
    one = kv_cache_config(s, tp=1, max_model_len=262_144)
    assert (one.pages.block_size, one.page_bytes, one.pages.state_padding_bytes) == (544, 1_114_112, 16_384)
    four = kv_cache_config(s, tp=4, max_model_len=262_144)
    assert (four.pages.block_size, four.page_bytes, four.pages.state_padding_bytes) == (272, 278_528, 4096)
    assert four.group_size == 12 and four.groups_per_kind == {STATE_KIND: 3, FULL_ATTENTION: 1}
    # 60 GiB on each of the 4 GPUs: 60 GiB // 278,528 // 12 = 19,275 blocks; 19,275 // 4 x 272 tokens.
    blocks = four.num_blocks(60 * GiB)
    assert blocks == 60 * GiB // 278_528 // 12 == 19_275
    assert four.tokens(blocks) == 4818 * 272 == 1_310_496
    # 262,144 tokens: cdiv(262,144, 272) = 964 attention blocks + 3 state blocks.
    assert four.blocks_per_request(s, 262_144, 8192) == 964 + 3


def test_published_vllm_log_qwen3_5_4b_block_size():
    """vLLM 0.19.1 serving Qwen/Qwen3.5-4B logged "Setting attention block size to 528 tokens"
    (github.com/vllm-project/vllm/issues/40696). Its config: 32 layers, every 4th attention with 4 KV
    heads x 256; gated delta-net 16 k-heads, 32 v-heads of 128, conv 4; mamba_ssm_dtype float32.
    State: conv 3 x (2 x 16 x 128 + 32 x 128) x 2 = 49,152 + recurrent 32 x 128 x 128 x 4 = 2,097,152;
    attention 2 x 4 x 256 x 2 = 4096 per token: 16 x cdiv(2,146,304, 65,536) = 16 x 33 = 528.
    """
    layers = tuple(FULL_ATTENTION if (i + 1) % 4 == 0 else LINEAR_ATTENTION for i in range(32))
    s = ModelSpec(
        name="Qwen3.5-4B", parameters=1, num_layers=32, hidden_size=2560, num_attention_heads=16, num_kv_heads=4,
        head_dim=256, layer_types=layers, state_dtype="float32",
        linear_attention=GatedDeltaNet(num_k_heads=16, num_v_heads=32, head_k_dim=128, head_v_dim=128, conv_kernel=4),
    )
    assert kv_cache_config(s, max_model_len=1024).pages.block_size == 528


def test_jamba_page_and_groups():
    """AI21-Jamba-1.5-Mini: state 311,296; attention 4096 per token: block 16 x cdiv(311,296, 65,536) = 80,
    page 327,680. 4 attention + 28 Mamba layers: group_size 4, 7 Mamba groups + 1 attention group."""
    s = spec("ai21labs__AI21-Jamba-1.5-Mini")
    cfg = kv_cache_config(s, max_model_len=262_144)
    assert (cfg.pages.block_size, cfg.page_bytes) == (80, 327_680)
    assert cfg.group_size == 4 and cfg.groups_per_kind == {STATE_KIND: 7, FULL_ATTENTION: 1}
    # tokens: blocks // 8 groups x 80; a 262,144-token request: 3277 + 7 blocks.
    assert cfg.tokens(8000) == 1000 * 80
    assert cfg.blocks_per_request(s, 262_144, 8192) == cdiv(262_144, 80) + 7 == 3284


def test_mamba_only_model_one_state_block_per_sequence():
    """Mamba-Codestral: no attention, so no block-size change and no padding: one group of 64 layers,
    page = one layer's state 2,158,592; MambaSpec.block_size = max_model_len, so vLLM's "GPU KV cache
    size" is num_blocks x max_model_len and the maximum concurrency is num_blocks."""
    s = spec("mistralai__Mamba-Codestral-7B-v0.1")
    cfg = kv_cache_config(s, max_model_len=32_768)
    assert cfg.page_bytes == 2_158_592 and cfg.group_size == 64 and len(cfg.groups) == 1
    blocks = cfg.num_blocks(10 * GiB)
    assert blocks == 10 * GiB // 2_158_592 // 64 == 77
    assert cfg.tokens(blocks) == 77 * 32_768
    assert cfg.max_concurrency(s, blocks, 32_768, 2048) == 77.0


def test_gemma3_sliding_groups_and_window_blocks():
    """gemma-3-4b-it: 29 sliding + 5 full layers, same page (16 x 4096 = 65,536): group_size 5,
    cdiv(29, 5) = 6 sliding groups (one padding layer) + 1 full group = 7 groups. A sliding group needs
    cdiv(min(1023 + 8192, L), 16) + 1 blocks per request, a full group cdiv(L, 16)."""
    s = spec("google__gemma-3-4b-it")
    cfg = kv_cache_config(s, max_model_len=131_072)
    assert cfg.page_bytes == 65_536 and cfg.group_size == 5 and len(cfg.groups) == 7 and cfg.padding_layers == 1
    assert cfg.blocks_per_request(s, 131_072, 8192) == 8192 + 6 * (cdiv(9215, 16) + 1) == 8192 + 6 * 577
    blocks = cfg.num_blocks(20 * GiB)
    assert blocks == 20 * GiB // 65_536 // 5 == 65_536
    assert cfg.tokens(blocks) == 65_536 // 7 * 16 == 149_792


def test_llama4_chunked_groups():
    """Llama-4-Scout: 36 chunked (8192) + 12 full: group_size 12, 3 chunked groups + 1 full. A chunked
    group needs cdiv(min(8192 + 8192, L), 16) = 1024 blocks per request (no +1, unlike sliding)."""
    s = spec("meta-llama__Llama-4-Scout-17B-16E-Instruct")
    cfg = kv_cache_config(s, max_model_len=131_072)
    assert cfg.group_size == 12 and len(cfg.groups) == 4
    assert cfg.blocks_per_request(s, 131_072, 8192) == 8192 + 3 * 1024


def test_deepseek_v32_one_group_latent_plus_indexer():
    """DeepSeek-V3.2-Exp: MLA latent (bf16) and indexer key in every layer, one uniform-type group;
    sparse FlashMLA blocks of 64 tokens: page 64 x (1152 + 132) = 82,176 per layer, 61 layers."""
    s = spec("deepseek-ai__DeepSeek-V3.2-Exp")
    cfg = kv_cache_config(s, max_model_len=163_840)
    assert (cfg.pages.block_size, cfg.page_bytes, cfg.group_size, len(cfg.groups)) == (64, 82_176, 61, 1)
    assert cfg.tokens(cfg.num_blocks(30 * GiB)) == 30 * GiB // 82_176 // 61 * 64


def test_group_size_heuristic_pads_close_counts():
    """gpt-oss-20b + a drafter layer: 12 sliding + 13 full: 13 < 1.5 x 12, so group_size 13 and the
    sliding kind is padded to 13 (2 groups), not split into 12 + 24."""
    kinds = ["sliding_attention", "full_attention"] * 12 + ["full_attention"]
    size, groups = group_layers(kinds)
    assert size == 13 and len(groups) == 2


def test_pipeline_projection_uses_each_stage_layers():
    """Qwen3-Next tp=1 pp=2: stage 0 holds layers 0..23. The 36 linear layers are dealt round-robin over
    3 groups, so stage 0 gets 6 of each group; attention layers 3..23 (6 of 12). group size on the worker
    is 6: num_blocks = available // page // 6."""
    s = spec("Qwen__Qwen3-Next-80B-A3B-Thinking")
    cfg = kv_cache_config(s, max_model_len=8192)
    assert cfg.stage_group_size(0, 24) == 6
    assert cfg.num_blocks(10 * GiB, 0, 24) == 10 * GiB // 1_114_112 // 6


def test_hybrid_page_sizes_with_user_block_size():
    """A user --block-size above the minimum is kept and the state padded to it; below it is raised."""
    assert hybrid_page_sizes(1024, 2_134_016, block_size=4096).block_size == 4096
    assert hybrid_page_sizes(1024, 2_134_016, block_size=16).block_size == 2096
    # MLA hybrids align to 64: 64 x cdiv(100,000, 64 x 576) = 64 x 3 = 192.
    assert hybrid_page_sizes(576, 100_000, align=64).block_size == 192


def test_multimodal_profiling_holds_one_budget_of_embeddings():
    """gemma-3-4b-it: the dummy images' embeddings (budget 8192 tokens) x text hidden 2560 x 2 bytes
    = 41,943,040 bytes stay allocated through profiling; a text-only model holds none."""
    from llmmem.engines.vllm_mm import encoder_cache_bytes

    assert encoder_cache_bytes(spec("google__gemma-3-4b-it"), 8192, 2) == 8192 * 2560 * 2 == 41_943_040
    assert encoder_cache_bytes(spec("Qwen__Qwen3-Next-80B-A3B-Thinking"), 8192, 2) == 0


def test_longest_lengths_follow_the_hybrid_blocks():
    """Nemotron-3-Nano, page 2,146,304, group size 6, 4 state groups.
    One request in 14 pages per pool: 4 go to the states, 10 attention blocks of 2096 -> 20,960 tokens
    (_estimate_max_model_len_from_groups). 100 requests in 3335 blocks: 33 blocks each, 29 attention
    blocks -> 60,784 tokens each."""
    s = spec("nvidia__NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    cfg = kv_cache_config(s, max_model_len=262_144)
    assert cfg.memory_for_one_request(s, 20_960, 8192) == 6 * 2_146_304 * 14
    assert cfg.estimated_max_model_len(s, 6 * 2_146_304 * 14, 262_144, 8192) == 20_960
    assert cfg.estimated_max_model_len(s, 6 * 2_146_304 * 4, 262_144, 8192) == 0
    assert cfg.longest_context_for(s, 3335, 100, 262_144, 8192) == 29 * 2096 == 60_784


# ----------------------------------------------------------------------------- wired into the engines


def test_vllm_engine_follows_the_hybrid_allocator():
    """Nemotron-3-Nano on one H100 at vLLM's defaults (max_model_len 8192): the available memory is cut
    into 2,146,304-byte pages, 6 layers per group, 5 groups; a request takes 4 attention blocks
    (cdiv(8192, 2096)) + 4 state blocks."""
    from llmmem.engines import estimate_serving
    from llmmem.gpus import get_gpu
    from llmmem.serving import ServingOptions

    s = spec("nvidia__NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    out = estimate_serving(s, ServingOptions(gpu=get_gpu("H100-80GB"), engine="vllm", max_model_len=8192))
    blocks = out.kv_cache_bytes_per_gpu // 2_146_304 // 6
    assert out.num_blocks == blocks
    assert out.kv_cache_tokens == blocks // 5 * 2096
    assert out.max_concurrency == round(blocks / 8, 2)
    assert (out.kv_cache_block_size, out.kv_cache_page_bytes, out.kv_cache_group_size) == (2096, 2_146_304, 6)
    assert dict(out.kv_cache_groups) == {STATE_KIND: 4, FULL_ATTENTION: 1}
    assert out.kv_cache_bytes_per_token == 6 * 1024 and out.state_bytes_per_sequence == 23 * 2_134_016
    data = out.to_dict()
    for key in ("kv_cache_bytes_per_token", "state_bytes_per_sequence", "cache_layers", "kv_cache_block_size",
                "kv_cache_page_bytes", "state_page_padding_bytes", "kv_cache_groups", "encoder_cache_bytes"):
        assert key in data
    assert {k["kind"]: k["layers"] for k in data["cache_layers"]} == {"mamba": 23, "full_attention": 6}


def test_generic_engine_charges_states_per_sequence():
    """Generic estimate, Qwen3-Next at tp=4 on H100s, 4 sequences of 32k tokens: per GPU each sequence
    keeps 32,768 x 12,288 bytes of KV (12 attention layers x 1024) + 36 x 274,432 bytes of state."""
    from llmmem.engines import estimate_serving
    from llmmem.gpus import get_gpu
    from llmmem.serving import ServingOptions

    s = spec("Qwen__Qwen3-Next-80B-A3B-Thinking")
    out = estimate_serving(s, ServingOptions(gpu=get_gpu("H100-80GB"), tp=4, context=32_768, batch=4))
    per_sequence = 32_768 * 12_288 + 36 * 274_432
    assert out.kv_cache_bytes_per_gpu == 4 * per_sequence
    assert out.state_bytes_per_sequence == 36 * 274_432 and out.kv_cache_bytes_per_token == 12_288
    free = out.gpu_memory_bytes - (out.weights_bytes_per_gpu + out.activation_bytes + out.non_torch_bytes)
    assert out.max_concurrency == free // per_sequence
    assert out.kv_cache_tokens == (free - 4 * 36 * 274_432) // 12_288


def test_cli_text_shows_state_and_allocator(capsys):
    from llmmem.cli import main

    code = main([str(NEW / "nvidia__NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.json"), "--engine", "vllm", "--gpu", "H100-80GB"])
    text = capsys.readouterr().out
    assert code in (0, None)
    assert "fixed state per sequence" in text and "(conv + SSM state of 23 layers" in text
    assert "hybrid KV allocator: blocks of 2,096 tokens, 5 groups of 6 layers (4 mamba_state, 1 full_attention)" in text
    assert "(6,144 bytes per token)" in text


def test_mamba_only_model_serves_under_tensor_parallelism():
    """Mamba-Codestral has no attention heads: any tp that splits its 128 heads and conv channels is
    allowed (vLLM counts 0 attention heads); tp=3 is refused by the state split, in one line."""
    import pytest

    from llmmem.engines import estimate_serving
    from llmmem.errors import InputError
    from llmmem.gpus import get_gpu
    from llmmem.serving import ServingOptions

    s = spec("mistralai__Mamba-Codestral-7B-v0.1")
    out = estimate_serving(s, ServingOptions(gpu=get_gpu("H100-80GB"), engine="vllm", tp=2, max_model_len=8192))
    # tp=2: conv (8192 + 2 x 8 x 128) / 2 = 5120 channels x 3 x 2 bytes; ssm 64 x 64 x 128 x 2 bytes.
    assert out.state_bytes_per_sequence == 64 * (3 * 5120 * 2 + 64 * 64 * 128 * 2)
    assert out.kv_cache_tokens == out.num_blocks * 8192 and out.max_concurrency == out.num_blocks
    with pytest.raises(InputError, match="does not divide the 128 Mamba-2 heads"):
        estimate_serving(s, ServingOptions(gpu=get_gpu("H100-80GB"), engine="vllm", tp=3, max_model_len=8192))


def test_deepseek_v32_on_h200_counts_the_indexer():
    """DeepSeek-V3.2-Exp at tp=8 on H200s: 61 layers x (1152 latent + 132 indexer) bytes per token on every
    GPU (MLA is not split); blocks of 64 tokens: tokens = available // (64 x 1284 x 61) x 64."""
    from llmmem.engines import estimate_serving
    from llmmem.gpus import get_gpu
    from llmmem.serving import ServingOptions

    s = spec("deepseek-ai__DeepSeek-V3.2-Exp")
    out = estimate_serving(s, ServingOptions(gpu=get_gpu("H200-141GB"), engine="vllm", tp=8, max_model_len=32_768))
    assert out.kv_cache_bytes_per_token == 61 * 1284 and out.kv_cache_block_size == 64
    assert out.kv_cache_tokens == out.kv_cache_bytes_per_gpu // (64 * 1284) // 61 * 64


def test_hybrid_and_vision_weights_split_as_vllm_shards_them():
    """Weights of hybrids and multimodal models per GPU:
    - Mamba / gated delta-net projections and conv/A/D/dt_bias are sharded by tp (like attention);
    - under pipeline parallelism attention weights follow the attention layers, mixer weights the
      mixer layers: Nemotron-3-Nano pp=2 puts layers 0-25 on stage 0, with 3 of the 6 attention
      layers: 5, 12, 19 (26 and 33, 42 are on stage 1) and 12 of the 23 Mamba layers;
    - gemma-3's SigLIP attention and MLP are split by tp, its patch / position embeddings and norms
      are whole on every rank; the tower sits on every pipeline stage."""
    from llmmem.quantization import FORMATS
    from llmmem.serving import weights_terms

    nemo = spec("nvidia__NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    tp2 = weights_terms(nemo, FORMATS["fp16"], 2, tp=2)
    assert tp2["ssm_proj"] == 890_265_600 // 2 * 2 and tp2["ssm_other"] == 805_184 // 2 * 2
    stage0 = weights_terms(nemo, FORMATS["fp16"], 2, pp=2, stage=0)
    assert stage0["attention_qo"] == 132_120_576 * 3 // 6 * 2
    assert stage0["ssm_proj"] == 890_265_600 * 12 // 23 * 2 == 928_972_800  # 23 x 38,707,200 per layer

    gemma = spec("google__gemma-3-4b-it")
    part = gemma.parts["vision"]
    split = part["attention"] + part["mlp"]
    whole = part["patch_embedding"] + part["position_embedding"] + part["norms"]
    assert weights_terms(gemma, FORMATS["fp16"], 2, tp=2)["vision"] == (split // 2 + whole) * 2
    assert weights_terms(gemma, FORMATS["fp16"], 2, pp=2, stage=1)["vision"] == 416_866_032 * 2


def test_hybrid_refused_when_max_num_seqs_exceeds_state_blocks():
    """vLLM 0.19 captures FULL decode CUDA graphs for max_num_seqs sequences of a hybrid, one state block
    each, and refuses to start when the pool has fewer blocks (vllm-project/vllm#38270; the same error
    recipes report for Qwen3.6-27B-FP8 on one H100: "max_num_seqs (1024) exceeds available Mamba cache
    blocks (856)"). Nemotron-3-Nano at its full 262,144 tokens on one H100 has fewer than 1024 blocks;
    --max-num-seqs at the block count starts, and the planner and the vllm serve check say so."""
    from llmmem.engines import estimate_serving
    from llmmem.gpus import get_gpu
    from llmmem.serving import ServingOptions
    from llmmem.vllm_serve import check_vllm_serve

    s = spec("nvidia__NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    h100 = get_gpu("H100-80GB")
    out = estimate_serving(s, ServingOptions(gpu=h100, engine="vllm", max_model_len=262_144))
    assert out.num_blocks < 1024 and not out.starts
    assert out.failure["check"] == "mamba_cache_blocks"
    assert out.failure["message"].startswith(f"max_num_seqs (1024) exceeds available Mamba cache blocks ({out.num_blocks})")
    lowered = estimate_serving(s, ServingOptions(gpu=h100, engine="vllm", max_model_len=262_144, max_num_seqs=out.num_blocks))
    assert lowered.starts
    check = check_vllm_serve(["vllm", "serve", str(NEW / "nvidia__NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.json")], gpu="H100-80GB")
    assert not check.starts and check.fixes[0]["command"].endswith(f"--max-num-seqs {out.num_blocks}")
    # A dense model never hits this check.
    dense = estimate_serving(spec("google__gemma-3-4b-it"), ServingOptions(gpu=h100, engine="vllm", max_model_len=8192, max_num_seqs=100_000))
    assert dense.failure is None or dense.failure["check"] != "mamba_cache_blocks"


def test_planner_lowers_max_num_seqs_for_hybrids():
    from llmmem.gpus import get_gpu
    from llmmem.planner import plan

    s = spec("nvidia__NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    result = plan(s, model="nemotron", engine="vllm", gpus=[get_gpu("H100-80GB")], context=262_144, concurrency=4, max_gpus=1)
    # One H100 holds 804 state blocks at 262,144 tokens (test above): the plan's command says so.
    assert result.plans[0].command == "vllm serve nemotron --max-model-len 262144 --max-num-seqs 804"
