"""GPU catalog lookups, custom sizes, and GPU counts with tensor-parallel validity."""

import pytest

from llmmem.errors import InputError
from llmmem.gpus import GPUS, GiB, GpuCount, get_gpu, gpus_needed, valid_tp
from llmmem.spec import ModelSpec


def model(heads, kv_heads, name="m"):
    return ModelSpec(name=name, parameters=10**9, num_attention_heads=heads, num_kv_heads=kv_heads,
                     num_layers=32, hidden_size=heads * 128)


@pytest.mark.parametrize(
    "typed, name",
    [
        ("H100-80GB", "H100-80GB"),
        ("h100", "H100-80GB"),
        ("H100 80GB", "H100-80GB"),
        ("h100-sxm", "H100-80GB"),
        ("  H100_80gb ", "H100-80GB"),
        ("NVIDIA H100 80GB (SXM)", "H100-80GB"),
        ("a100", "A100-80GB"),
        ("A100 40GB", "A100-40GB"),
        ("a10g", "A10G-24GB"),
        ("L4", "L4-24GB"),
        ("rtx 4090", "RTX4090-24GB"),
        ("l40s", "L40S-48GB"),
        ("H200", "H200-141GB"),
        ("b200", "B200-180GB"),
        ("MI300X", "MI300X-192GB"),
        ("h100 nvl", "H100-NVL-94GB"),
    ],
)
def test_catalog_lookup(typed, name):
    assert get_gpu(typed).name == name


@pytest.mark.parametrize(
    "typed, name, memory_bytes",
    [
        ("48GB", "48GB", 48_000_000_000),
        ("48 GB", "48GB", 48_000_000_000),
        ("80GiB", "80GiB", 80 * 2**30),
        ("80 gib", "80GiB", 80 * 2**30),
        ("custom:24GB", "24GB", 24_000_000_000),
        ("custom: 1.5TB", "1.5TB", 1_500_000_000_000),
        ("0.5GiB", "0.5GiB", 2**29),
    ],
)
def test_custom_sizes(typed, name, memory_bytes):
    gpu = get_gpu(typed)
    assert (gpu.name, gpu.memory_bytes, gpu.vendor) == (name, memory_bytes, "custom")


@pytest.mark.parametrize(
    "typed, message",
    [
        ("24", "GPU size '24' needs a unit: write 24GB (10^9 bytes) or 24GiB (2^30 bytes)"),
        ("24 g", "needs a unit"),
        ("0GB", "is not a real GPU's memory"),
        ("-5GB", "is not a real GPU's memory"),
        ("11TB", "is not a real GPU's memory"),
        ("H900", "unknown GPU 'H900': use a catalog name (L4-24GB, A100-80GB, H100-80GB, H200-141GB, MI300X-192GB, ...)"
                 " or a size such as 48GB or 80GiB"),
        ("", "unknown GPU ''"),
    ],
)
def test_bad_gpu_names_are_refused_in_one_line(typed, message):
    with pytest.raises(InputError) as err:
        get_gpu(typed)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "name, memory_bytes, gib_2dp",
    [
        ("H100-80GB", 81090 * 2**20, 79.19),  # the vLLM fixture's total_memory_gib
        ("A100-80GB", 85_100_068_864, 79.26),
        ("H200-141GB", 150_109_880_320, 139.80),
        ("L4-24GB", 23_570_219_008, 21.95),
        ("RTX4090-24GB", 25_386_352_640, 23.64),
        ("MI300X-192GB", 196_592 * 2**20, 191.98),
    ],
)
def test_catalog_bytes(name, memory_bytes, gib_2dp):
    gpu = get_gpu(name)
    assert gpu.memory_bytes == memory_bytes
    assert round(gpu.memory_bytes / GiB, 2) == gib_2dp


def test_catalog_is_well_formed():
    names = [g.name for g in GPUS]
    assert len(set(names)) == len(names)
    for gpu in GPUS:
        assert gpu.source and gpu.vendor in {"nvidia", "amd"}
        # CUDA/ROCm always reports less than the marketing size in GiB would suggest, never more.
        marketed_gb = int(gpu.name.rsplit("-", 1)[1].removesuffix("GB"))
        assert 0.9 * marketed_gb * 10**9 < gpu.memory_bytes < marketed_gb * GiB, gpu.name
    required = {"A10G-24GB", "L4-24GB", "RTX4090-24GB", "L40S-48GB", "A100-40GB", "A100-80GB",
                "H100-80GB", "H200-141GB", "B200-180GB", "MI300X-192GB"}
    assert required <= set(names)


def test_seed_example_70b_fp16_on_two_a100_80gb():
    # The seed's rule of thumb: 70e9 * 4 / (32 / 16) * 1.2 = 168e9 bytes; an "80 GB" A100 holds 85.1e9.
    load = 70 * 10**9 * 4 * 16 // 32 * 12 // 10
    assert load == 168 * 10**9
    assert gpus_needed(load, get_gpu("A100-80GB")) == GpuCount(2, 2, 1, 2, 1)
    # ... but not on 80 GB of 10^9 bytes, nor at vLLM's default 90% utilization.
    assert gpus_needed(load, get_gpu("80GB")).count == 3
    assert gpus_needed(load, get_gpu("A100-80GB"), usable_fraction=0.9).count == 3


def test_llama_405b_needs_two_nodes_of_eight_h100():
    spec = model(128, 8, "Llama-3.1-405B-like")
    needed = gpus_needed(810 * 10**9, get_gpu("H100-80GB"), spec)
    assert needed == GpuCount(count=10, tp_count=16, nodes=2, tp_size=8, pp_size=2)
    count, tp_count, nodes = needed
    assert (count, tp_count, nodes) == (10, 16, 2)


@pytest.mark.parametrize(
    "heads, kv_heads, count, tp_size, pp_size",
    [
        (40, 8, 3, 4, 1),    # Qwen2.5-14B-like: 3 GPUs of memory, tp 4
        (40, 8, 5, 8, 1),
        (32, 8, 1, 1, 1),
        (64, 8, 7, 8, 1),
        (14, 2, 2, 2, 1),    # Qwen2-0.5B-like: valid tp sizes are 1 and 2 only
        (14, 2, 3, 2, 2),    # ... so 3 GPUs become 2 stages of tp 2
        (14, 2, 9, 2, 5),
        (28, 4, 3, 4, 1),    # Qwen2.5-7B-like: 28 heads divide by 4
        (28, 4, 5, 4, 2),    # ... not by 8: two stages of 4
        (12, 12, 8, 4, 2),   # 12 heads: 8 does not divide them
        (25, 5, 2, 1, 2),    # odd heads: only tp 1 is valid
        (32, 2, 4, 4, 1),    # 4 > 2 KV heads: each KV head replicated on 2 ranks (4 % 2 == 0)
    ],
)
def test_tensor_parallel_layout(heads, kv_heads, count, tp_size, pp_size):
    gpu = get_gpu("10GB")
    needed = gpus_needed(count * 10**10 - 1, gpu, model(heads, kv_heads))
    assert needed.count == count
    assert (needed.tp_size, needed.pp_size) == (tp_size, pp_size)
    assert needed.tp_count == tp_size * pp_size
    assert needed.nodes == -(-needed.tp_count // 8)
    assert valid_tp(tp_size, model(heads, kv_heads))


@pytest.mark.parametrize(
    "count, tp_count, nodes",
    [(1, 1, 1), (3, 4, 1), (5, 8, 1), (8, 8, 1), (9, 16, 2), (17, 24, 3)],
)
def test_raw_parameter_count_uses_powers_of_two(count, tp_count, nodes):
    needed = gpus_needed(count * 10**10, get_gpu("10GB"), None)
    assert (needed.count, needed.tp_count, needed.nodes) == (count, tp_count, nodes)


def test_valid_tp_follows_vllm_rule():
    spec = model(32, 8)
    assert [tp for tp in (1, 2, 3, 4, 8, 16, 64) if valid_tp(tp, spec)] == [1, 2, 4, 8, 16]
    spec = model(48, 6)  # 8 divides 48, but neither 6 % 8 nor 8 % 6 is 0
    assert [tp for tp in (1, 2, 4, 8) if valid_tp(tp, spec)] == [1, 2]


def test_usable_fraction_and_bad_inputs():
    h100 = get_gpu("H100-80GB")
    usable = int(h100.memory_bytes * 0.95)
    assert gpus_needed(usable, h100, usable_fraction=0.95).count == 1
    assert gpus_needed(usable + 1, h100, usable_fraction=0.95).count == 2
    assert gpus_needed(0, h100).count == 1
    with pytest.raises(InputError):
        gpus_needed(-1, h100)
    with pytest.raises(InputError):
        gpus_needed(10**9, h100, usable_fraction=0)
    with pytest.raises(InputError):
        gpus_needed(10**9, h100, usable_fraction=1.5)


def test_catalog_prices_cite_their_source_and_are_exact():
    by_name = {g.name: g for g in GPUS}
    # RunPod's per-second flex rates x 3600 seconds.
    assert by_name["H100-80GB"].usd_per_hour == 4.176  # $0.00116/s
    assert by_name["A100-80GB"].usd_per_hour == 2.736  # $0.00076/s
    assert by_name["L4-24GB"].usd_per_hour == 0.684  # $0.00019/s
    for gpu in GPUS:
        if gpu.usd_per_hour is None:
            assert gpu.price_source == ""
        else:
            assert 0 < gpu.usd_per_hour < 100 and "runpod" in gpu.price_source and "read 2026-11-30" in gpu.price_source
    assert {g.name for g in GPUS if g.usd_per_hour is None} == {"T4-16GB", "A10G-24GB", "A100-40GB", "H100-NVL-94GB", "MI300X-192GB"}
