"""The planner: layouts vLLM accepts, the target kept, the ranking, inverse questions, empty plans."""

import json
from pathlib import Path

import pytest

from llmmem.architectures import spec_from_config
from llmmem.engines import estimate_serving
from llmmem.engines.vllm import BLOCK_SIZE
from llmmem.errors import InputError
from llmmem.gpus import get_gpu
from llmmem.planner import layouts, plan, vllm_command
from llmmem.serving import ServingOptions

CONFIGS = Path(__file__).resolve().parent.parent / "llmmem" / "catalog" / "configs"
H100, A100, H200 = get_gpu("H100-80GB"), get_gpu("A100-80GB"), get_gpu("H200-141GB")


def spec(name):
    return spec_from_config(json.loads((CONFIGS / f"{name}.json").read_text()), name=name)


LLAMA_8B, LLAMA_70B, QWEN_7B = spec("meta-llama__Llama-3.1-8B"), spec("meta-llama__Llama-3.1-70B"), spec("Qwen__Qwen2.5-7B")


def test_layouts_vllm_accepts():
    # 64 heads, 8 KV heads: every power of two up to a node divides both.
    assert layouts(LLAMA_70B, 8) == [(8, 1), (4, 2), (2, 4), (1, 8)]
    # 28 heads, 4 KV heads: tp 7 divides the heads but neither divides nor is a multiple of 4 KV heads.
    assert layouts(QWEN_7B, 7) == [(1, 7)]
    assert layouts(QWEN_7B, 8) == [(4, 2), (2, 4), (1, 8)]  # tp 8 does not divide 28 heads
    # Past one node, tensor parallelism stays at most 8 and pipeline stages span nodes.
    assert layouts(LLAMA_70B, 16) == [(8, 2), (4, 4), (2, 8), (1, 16)]
    assert layouts(LLAMA_70B, 12, tp=4) == [(4, 3)]
    # No more pipeline stages than layers (Qwen2.5-7B has 28).
    assert layouts(QWEN_7B, 29) == []


def test_command_spells_vllm_flags():
    assert vllm_command("org/m", tp=2, max_model_len=8192) == "vllm serve org/m --tensor-parallel-size 2 --max-model-len 8192"
    assert vllm_command("org/m", tp=4, pp=2, max_model_len=4096, weights="fp8", kv_cache_dtype="fp8", gpu_memory_utilization=0.95, max_num_seqs=2048) == (
        "vllm serve org/m --tensor-parallel-size 4 --pipeline-parallel-size 2 --max-model-len 4096 --quantization fp8 "
        "--kv-cache-dtype fp8 --gpu-memory-utilization 0.95 --max-num-seqs 2048"
    )


def test_best_plan_for_70b_on_h100_is_two_gpus_and_agrees_with_the_engine():
    result = plan(LLAMA_70B, model="meta-llama/Llama-3.1-70B", gpus=[H100], context=8192)
    best = result.best
    # 141.14e9 bytes of 16-bit weights need more than one GPU's 0.9 x 85.03e9 = 76.5e9 bytes.
    assert best.count == 2 and best.nodes == 1
    estimate = estimate_serving(LLAMA_70B, ServingOptions(gpu=H100, engine="vllm", tp=best.tp, pp=best.pp, max_model_len=8192))
    assert estimate.starts
    assert (best.kv_cache_tokens, best.weights_bytes_per_gpu) == (estimate.kv_cache_tokens, estimate.weights_bytes_per_gpu)
    # max concurrency: the block pool over the 8192 / 16 = 512 blocks one request needs
    assert best.max_concurrency == round(estimate.num_blocks / 512, 2)
    # max context at 1 sequence: every block of the pool, capped at the model's 131,072
    assert best.max_context == min(estimate.num_blocks * BLOCK_SIZE, 131072)
    assert best.command.startswith("vllm serve meta-llama/Llama-3.1-70B ") and "--max-model-len 8192" in best.command
    # both two-GPU layouts serve; tensor parallel first (fewer pipeline stages), though the pipeline holds
    # more KV: no 2 GiB all-reduce buffers on its GPUs
    assert [(p.tp, p.pp) for p in result.plans] == [(2, 1), (1, 2)]
    assert result.plans[1].kv_cache_tokens > result.plans[0].kv_cache_tokens


def test_prices_rank_by_cost_per_hour():
    prices = {"H100-80GB": 2.0, "H200-141GB": 3.5}
    result = plan(LLAMA_70B, gpus=[H100, H200], context=8192, prices=prices)
    # One H200 would be the cheapest (3.50 $/h), but 0.9 x 150.1e9 = 135.1e9 bytes < the 141.1e9 of 16-bit
    # weights: it takes 2 x H200 = 7.00 $/h, so 2 x H100 = 4.00 $/h comes first.
    assert [(p.gpu, p.count, p.usd_per_hour) for p in result.plans][:1] == [("H100-80GB", 2, 4.0)]
    assert {p.usd_per_hour for p in result.plans if p.gpu == "H200-141GB"} == {7.0}
    assert "ranked by cost per hour" in result.notes[0]


def test_without_prices_rank_by_count_and_say_so():
    t4, mi300x = get_gpu("T4-16GB"), get_gpu("MI300X-192GB")  # no catalog price
    result = plan(LLAMA_8B, gpus=[t4, mi300x], context=8192)
    assert [(p.gpu, p.count) for p in result.plans][:1] == [("MI300X-192GB", 1)] and result.plans[-1].gpu == "T4-16GB"
    assert "ranked by GPU count, fewer pipeline stages, then headroom: no price for MI300X-192GB, T4-16GB" in result.notes[0]


def test_priced_gpus_rank_first_and_unpriced_ones_follow_by_count():
    t4, mi300x = get_gpu("T4-16GB"), get_gpu("MI300X-192GB")  # no catalog price
    result = plan(LLAMA_8B, gpus=[H100, t4, mi300x], context=8192)
    # 1 x MI300X is as few GPUs as 1 x H100, but only the H100 has a price (4.176 $/h): it is the answer
    assert [(p.gpu, p.count, p.usd_per_hour) for p in result.plans] == [
        ("H100-80GB", 1, 4.176), ("MI300X-192GB", 1, None), ("T4-16GB", 2, None), ("T4-16GB", 2, None)]
    assert result.notes[0] == ("ranked by cost per hour (catalog prices or --price), then GPU count, fewer pipeline stages, "
                               "headroom; GPUs without a price follow, by GPU count: MI300X-192GB, T4-16GB (give --price GPU=USD_PER_HOUR)")


def test_concurrency_target_is_kept():
    # 32 sequences of 8192 tokens on H100 need 32 x 512 = 16,384 blocks of the pool.
    result = plan(LLAMA_70B, gpus=[H100], context=8192, concurrency=32)
    for p in result.plans:
        assert p.max_concurrency >= 32
    smaller = plan(LLAMA_70B, gpus=[H100], context=8192, concurrency=1).best
    assert result.best.count > smaller.count


def test_context_max_answers_the_longest_context():
    result = plan(LLAMA_8B, gpus=[H100], context="max")
    best = result.best
    assert best.count == 1 and best.max_context == 131072  # one H100 holds a full-length sequence of 8B
    assert "--max-model-len 131072" in best.command
    capped = plan(LLAMA_70B, gpus=[H100], context="max", max_gpus=2).best
    estimate = estimate_serving(LLAMA_70B, ServingOptions(gpu=H100, engine="vllm", tp=capped.tp, pp=capped.pp, max_model_len=131072))
    assert capped.max_context == estimate.num_blocks * BLOCK_SIZE < 131072  # what 2 GPUs can hold
    assert f"--max-model-len {capped.max_context}" in capped.command


def test_concurrency_max_answers_the_most_sequences():
    result = plan(LLAMA_8B, gpus=[H100], context=8192, concurrency="max", max_gpus=1)
    best = result.best
    estimate = estimate_serving(LLAMA_8B, ServingOptions(gpu=H100, engine="vllm", max_model_len=8192))
    assert best.max_concurrency == round(estimate.num_blocks / 512, 2)


def test_empty_plan_says_what_stops_everything():
    result = plan(spec("meta-llama__Llama-3.1-405B"), gpus=[H100], context=8192, max_gpus=4)
    assert result.plans == ()
    assert "the weights alone" in result.notes[0] and "--max-gpus" in result.notes[0]
    kv = plan(LLAMA_70B, gpus=[H100], context=131072, concurrency=64, max_gpus=2)
    assert kv.plans == () and "KV" in kv.notes[0]


def test_context_beyond_the_model_is_refused_unless_allowed():
    with pytest.raises(InputError) as info:
        plan(LLAMA_8B, gpus=[H100], context=200_000)
    assert "131,072" in str(info.value) and "--allow-long-context" in str(info.value)
    allowed = plan(LLAMA_8B, gpus=[H100], context=200_000, allow_long_context=True)
    assert allowed.best is not None and "--max-model-len 200000" in allowed.best.command


@pytest.mark.parametrize("name", ["meta-llama__Llama-3.1-8B", "meta-llama__Llama-3.1-70B", "Qwen__Qwen2.5-7B", "mistralai__Mixtral-8x7B-v0.1", "google__gemma-2-9b", "deepseek-ai__DeepSeek-V2-Lite"])
@pytest.mark.parametrize("engine, context, sequences", [("vllm", 8192, 4), ("vllm", 8192, 64), ("generic", 4096, 16), ("generic", 8192, 96)])
def test_planner_never_worse_than_any_fixed_tp(name, engine, context, sequences):
    """Brute force: every (tp, pp) up to 8 GPUs that serves the target as `--engine ... --tp N --pp M` would
    report it; the planner's best uses no more GPUs, and against `--tp N` (pp 1) at the same count it holds
    at least as many sequences."""
    model = spec(name)
    best = plan(model, engine=engine, gpus=[H100], context=context, concurrency=sequences, max_gpus=8).best
    for tp in range(1, 9):
        for pp in range(1, 9):
            if tp * pp > 8:
                continue
            options = ServingOptions(gpu=H100, engine=engine, tp=tp, pp=pp, context=context, batch=sequences, max_model_len=context)
            try:
                out = estimate_serving(model, options)
            except InputError:
                continue  # a tp the heads do not split into
            serves = out.starts and out.max_concurrency >= sequences if engine == "vllm" else out.fits
            if not serves:
                continue
            assert best is not None, (tp, pp)
            assert best.count <= tp * pp, (tp, pp)
            if best.count == tp * pp and pp == 1:
                assert best.max_concurrency >= out.max_concurrency, (tp, pp)


def test_catalog_prices_rank_when_every_gpu_has_one():
    result = plan(LLAMA_70B, gpus=[H100, A100], context=8192)
    # 2 x A100 at 2.736 $/h beats 2 x H100 at 4.176 $/h (RunPod flex rates in the catalog).
    assert (result.best.gpu, result.best.count, result.best.usd_per_hour) == ("A100-80GB", 2, 5.472)
    assert {p.usd_per_hour for p in result.plans if p.gpu == "H100-80GB"} == {8.352}
    overridden = plan(LLAMA_70B, gpus=[H100, A100], context=8192, prices={"H100-80GB": 1.0})
    assert (overridden.best.gpu, overridden.best.usd_per_hour) == ("H100-80GB", 2.0)


@pytest.mark.parametrize("context, sequences", [(8192, 1), (32768, 8), ("max", 1), (4096, 200), (2048, 300)])
def test_every_plan_command_starts_in_the_vllm_serve_check(context, sequences):
    from llmmem.vllm_serve import check_vllm_serve

    result = plan(LLAMA_70B, model="meta-llama/Llama-3.1-70B", gpus=[H100, get_gpu("L40S")], context=context, concurrency=sequences)
    assert result.plans
    for p in result.plans:
        check = check_vllm_serve(p.command, gpu=p.gpu, offline=True)
        assert check.starts, p.command
        assert (check.estimate.kv_cache_tokens, check.estimate.tp, check.estimate.pp) == (p.kv_cache_tokens, p.tp, p.pp)
        if sequences > 1:
            assert check.estimate.max_concurrency >= sequences


def test_context_max_for_several_sequences_shares_the_block_pool():
    best = plan(LLAMA_8B, gpus=[H100], context="max", concurrency=4, max_gpus=1).best
    estimate = estimate_serving(LLAMA_8B, ServingOptions(gpu=H100, engine="vllm", max_model_len=131072))
    # 4 sequences of L tokens take 4 x ceil(L / 16) blocks: L = 16 x floor(blocks / 4), under the 131,072 cap.
    assert estimate.num_blocks == 27723
    assert best.max_context == 16 * (27723 // 4) == 110_880
    assert f"--max-model-len {best.max_context}" in best.command


def test_generic_max_context_is_what_the_free_memory_holds():
    l4 = get_gpu("L4-24GB")
    out = estimate_serving(LLAMA_8B, ServingOptions(gpu=l4, context=8192))
    # From 8192 tokens on, the prefill chunk stays 8192, so activations and overhead are fixed and each
    # further token costs 32 layers x 2 x 8 KV heads x 128 x 2 bytes = 131,072 bytes.
    free = l4.memory_bytes - out.weights_bytes_per_gpu - out.activation_bytes - out.non_torch_bytes
    assert out.max_context == free // 131072
    assert plan(LLAMA_8B, engine="generic", gpus=[l4], context="max", max_gpus=1).best.max_context == out.max_context


def test_a_longer_max_model_len_is_what_the_plan_is_sized_and_launched_with():
    from llmmem.vllm_serve import check_vllm_serve

    # 8,192-token sequences fit 2 x H100 at --max-model-len 8192 (10,096 KV tokens); but vLLM's start-up check
    # needs one whole sequence of max_model_len: at 131,072 tokens (20 GiB of KV for the 70B) 2 GPUs stop, 3 start.
    short = plan(LLAMA_70B, model="meta-llama/Llama-3.1-70B", gpus=[H100], context=8192).best
    assert (short.count, short.kv_cache_tokens) == (2, 10096)
    long = plan(LLAMA_70B, model="meta-llama/Llama-3.1-70B", gpus=[H100], context=8192, max_model_len=131072).best
    assert (long.count, long.tp, long.pp) == (3, 1, 3)
    assert long.command == "vllm serve meta-llama/Llama-3.1-70B --pipeline-parallel-size 3 --max-model-len 131072"
    assert long.max_context == 131072 and long.kv_cache_tokens == 236096
    check = check_vllm_serve(long.command, offline=True)
    assert check.starts and check.estimate.kv_cache_tokens == long.kv_cache_tokens
    # the longest context a plan reports never passes --max-model-len (vLLM serves no longer sequence)
    capped = plan(LLAMA_8B, gpus=[H100], context=4096, max_model_len=16384).best
    assert capped.max_context == 16384 and capped.command.endswith("--max-model-len 16384")
    with pytest.raises(InputError, match="max_model_len 4,096 is shorter than context 8,192"):
        plan(LLAMA_8B, gpus=[H100], context=8192, max_model_len=4096)


def test_beyond_one_node_plans_use_whole_nodes():
    from llmmem.resolve import resolve

    kimi = resolve("moonshotai/Kimi-K2-Instruct", offline=True).spec  # 1,026,408,209,408 parameters, fp8 checkpoint
    result = plan(kimi, gpus=[H100])
    # its fp8 weights (1,029,173,150,896 bytes with the block scales) need 13.4 x 0.9 of an H100: 14 GPUs as a
    # pipeline of single GPUs; whole nodes give 16, and then tp 8 x pp 2 first.
    assert [(p.count, p.tp, p.pp, p.nodes) for p in result.plans] == [(16, 8, 2, 2), (16, 4, 4, 2), (16, 2, 8, 2), (16, 1, 16, 2)]
    assert "multi-node plans: whole nodes of 8 GPUs, tensor parallel inside a node, pipeline stages across nodes" in result.notes
    # a layout fixed by both --tp and --pp is answered as given, whole nodes or not
    llama405 = resolve("meta-llama/Llama-3.1-405B", offline=True).spec
    assert [(p.count, p.tp, p.pp) for p in plan(llama405, gpus=[H100], tp=4, pp=3).plans] == [(12, 4, 3)]
    assert plan(llama405, gpus=[H100]).best.count == 16


def test_a_format_vllm_cannot_quantize_to_on_load_is_said():
    result = plan(LLAMA_8B, model="meta-llama/Llama-3.1-8B", gpus=[get_gpu("L4-24GB")], weights=("awq", "fp8"))
    assert {p.weights for p in result.plans} == {"awq", "fp8"}
    assert ("weights awq: replace meta-llama/Llama-3.1-8B in the command by a checkpoint stored in awq: "
            "vLLM quantizes 16-bit weights on load only to fp8 and bitsandbytes") in result.notes
    assert not any(note.startswith("weights fp8") for note in result.notes)


@pytest.mark.parametrize("engine", ["vllm", "generic"])
def test_an_encoder_keeps_no_kv_cache_and_is_capped_by_the_scheduler(engine):
    from llmmem.resolve import resolve

    bert = resolve("google-bert/bert-base-multilingual-cased", offline=True).spec  # every layer "no_cache"
    result = plan(bert, engine=engine, gpus=[H100])
    best = result.best
    # nothing cached: 0 KV tokens; concurrency is the scheduler's cap (vLLM's 1024 on an H100), context the 512 positions
    assert (best.count, best.kv_cache_tokens, best.max_concurrency, best.max_context) == (1, 0, 1024.0, 512)
    assert any(note.startswith("no KV cache (encoder-only") for note in result.notes)
    most = plan(bert, engine=engine, gpus=[H100], concurrency="max").best
    assert (most.count, most.max_concurrency) == (1, 1024.0)


def test_a_hybrid_plan_lowers_max_num_seqs_and_the_check_agrees():
    from llmmem.resolve import resolve
    from llmmem.vllm_serve import check_vllm_serve

    nemotron = resolve("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", offline=True).spec
    best = plan(nemotron, model="nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", gpus=[H100], context=8192).best
    # at vLLM's default 1,024 sequences there are only 804 Mamba state blocks: vLLM stops; at 804 it starts
    assert best.command == "vllm serve nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16 --max-model-len 8192 --max-num-seqs 804"
    check = check_vllm_serve(best.command, offline=True)
    assert check.starts and (check.estimate.kv_cache_tokens, check.estimate.max_concurrency) == (best.kv_cache_tokens, best.max_concurrency) == (350032, 104.62)
    assert check_vllm_serve(best.command.replace(" --max-num-seqs 804", ""), offline=True).failure["check"] == "mamba_cache_blocks"


def test_inverse_questions_are_asked_of_the_fewest_gpus_that_serve():
    from llmmem.resolve import resolve

    # "the most 8k sequences" of a 13B model: one H100 holds 7.31 (it used to climb to 64 x H100 for 697)
    codellama = resolve("codellama/CodeLlama-13b-hf", offline=True).spec
    result = plan(codellama, gpus=[H100], context=8192, concurrency="max")
    assert [(p.count, p.tp, p.pp, p.max_concurrency) for p in result.plans] == [(1, 1, 1, 7.31)]
    assert result.notes[-1].endswith("give --concurrency N to size for more")
    # the longest context of the 70B: on 2 x H100, the layout that holds most first (pp 2: 23,024 tokens)
    longest = plan(LLAMA_70B, gpus=[H100], context="max")
    assert [(p.count, p.tp, p.pp, p.max_context) for p in longest.plans] == [(2, 1, 2, 23024), (2, 2, 1, 10096)]


def test_a_quantized_checkpoint_is_served_in_its_own_format():
    from llmmem.planner import needs_stored_checkpoint
    from llmmem.resolve import resolve

    fp8 = resolve("Qwen/Qwen3-235B-A22B-FP8", offline=True).spec  # quant_method fp8, 128 x 128 blocks
    assert [w for w in ("auto", "fp8", "fp8-block", "fp16", "fp32", "w4a16", "awq") if needs_stored_checkpoint(fp8, w)] == [
        "fp16", "fp32", "w4a16", "awq"]
    result = plan(fp8, model="Qwen/Qwen3-235B-A22B-FP8", gpus=[H100], weights=("auto", "fp16"))
    assert ("weights fp16: replace Qwen/Qwen3-235B-A22B-FP8 in the command by a checkpoint stored in fp16: this checkpoint "
            "is stored in fp8-block, which vLLM serves as it is (no dequantizing or re-quantizing on load)") in result.notes
