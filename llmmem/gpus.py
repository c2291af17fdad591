"""GPU catalog (memory as CUDA/ROCm reports it, in bytes) and how many GPUs a load needs.

Capacity definition: the total memory the runtime reports for the device, i.e.
`torch.cuda.get_device_properties(i).total_memory` == `cudaGetDeviceProperties().totalGlobalMem` ==
the total of `cudaMemGetInfo` (hipDeviceProp totalGlobalMem on ROCm). This is the figure vLLM's
`gpu_memory_utilization` is a fraction of. It is less than the marketing size and a little less than
nvidia-smi's "Total": on this workplace's H200, nvidia-smi showed 143771 MiB total with 616 MiB
"memory.reserved", and CUDA reported 150109880320 bytes = 143155.94 MiB, i.e. nvidia-smi's total minus
what the driver reserves. Every entry below has a CUDA/ROCm figure, so no nvidia-smi conversion is used.

# NOTE: the CUDA total moves by a few MiB with the driver (H100 80GB HBM3: 81082..81106 MiB seen in
# public logs). Sources that print whole MiB (deviceQuery "MBytes", torch's `total_memory=...MB` repr)
# are stored as MiB * 2^20; sources with exact bytes are stored as given.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import InputError
from .spec import ModelSpec

MiB = 2**20
GiB = 2**30
GB = 10**9

GPUS_PER_NODE = 8
_MAX_CUSTOM_BYTES = 10 * 10**12  # 10 TB: anything bigger is a typo, not a GPU


@dataclass(frozen=True)
class GPU:
    name: str  # canonical id, e.g. "H100-80GB"
    label: str  # what people call it, e.g. "NVIDIA H100 80GB (SXM)"
    memory_bytes: int  # total memory as CUDA/ROCm reports it
    vendor: str = "custom"
    source: str = "user-specified size"
    aliases: tuple[str, ...] = ()
    # Optional on-demand price of one GPU, with its public source and date (None: unknown).
    usd_per_hour: float | None = None
    price_source: str = ""

    def __post_init__(self) -> None:
        if self.memory_bytes <= 0:
            raise ValueError(f"memory_bytes must be positive, got {self.memory_bytes}")

    @property
    def memory_gib(self) -> float:
        return self.memory_bytes / GiB

    @property
    def memory_gb(self) -> float:
        return self.memory_bytes / GB


# NOTE: prices are one provider's published pay-as-you-go rate, so that plans compare like with like:
# RunPod Serverless "flex worker" cost per second x 3600 (docs.runpod.io/serverless/pricing, GPU pricing
# table, page as stored in this project's reference index, read 2026-11-30). Prices move; --price overrides.
# GPUs that table does not list (T4, A10G, A100 40GB, H100 NVL, MI300X) have no price.
PRICE_SOURCE = "docs.runpod.io/serverless/pricing, Serverless flex workers, read 2026-11-30"


def _runpod(usd_per_second: str, row: str) -> tuple[float, str]:
    """(usd_per_hour, price_source) from a per-second rate of RunPod's table, exactly x 3600."""
    from decimal import Decimal

    return float(Decimal(usd_per_second) * 3600), f"{PRICE_SOURCE}: row '{row}' ${usd_per_second}/s"


# fmt: off
GPUS: tuple[GPU, ...] = (
    GPU("T4-16GB", "NVIDIA Tesla T4 16GB", 15095 * MiB, "nvidia",
        "deviceQuery on Colab, 'Global Memory | 15095 MBytes': github.com/sylvia-ymlin/cuda-kernels-from-scratch README.md",
        ("t4", "tesla-t4", "t4-16gb")),
    GPU("A10G-24GB", "NVIDIA A10G 24GB", 22587 * MiB, "nvidia",
        "torch repr \"_CudaDeviceProperties(name='NVIDIA A10G', major=8, minor=6, total_memory=22587MB\" "
        "(public GitHub file, search index id 67234836605)",
        ("a10g", "a10g-24gb")),
    GPU("L4-24GB", "NVIDIA L4 24GB", 23570219008, "nvidia",
        "deviceQuery 'NVIDIA L4 ... 22478 MBytes (23570219008 bytes)': github.com/thamada/nvidia-smi gls/L4_deviceQuery.py",
        ("l4", "l4-24gb"),
        *_runpod("0.00019", "L4, A5000, 3090")),
    GPU("RTX3090-24GB", "NVIDIA GeForce RTX 3090 24GB", 25286672384, "nvidia",
        "deviceQuery 'NVIDIA GeForce RTX 3090 ... Global Memory: 25286672384 bytes': "
        "github.com/Jumperkables/cuda-benchmarking 00_deviceQuery/README.md",
        ("rtx3090", "3090", "geforce-rtx-3090"),
        *_runpod("0.00019", "L4, A5000, 3090")),
    GPU("RTX4090-24GB", "NVIDIA GeForce RTX 4090 24GB", 25386352640, "nvidia",
        "deviceQuery 'NVIDIA GeForce RTX 4090 ... 24210 MBytes (25386352640 bytes)': "
        "github.com/thamada/nvidia-smi gls/RTX4090_deviceQuery.py",
        ("rtx4090", "4090", "geforce-rtx-4090"),
        *_runpod("0.00031", "4090 PRO")),
    GPU("A40-48GB", "NVIDIA A40 48GB", 47608692736, "nvidia",
        "deviceQuery 'NVIDIA A40 ... 45403 MBytes (47608692736 bytes)': github.com/thamada/nvidia-smi nvsim/A40x10_deviceQuery.py",
        ("a40",),
        *_runpod("0.00034", "A6000, A40")),
    GPU("L40S-48GB", "NVIDIA L40S 48GB", 47803596800, "nvidia",
        "deviceQuery 'NVIDIA L40S ... 45589 MBytes (47803596800 bytes)': github.com/thamada/nvidia-smi nvsim/L40S_deviceQuery.py",
        ("l40s", "l40s-48gb"),
        *_runpod("0.00053", "L40, L40S, 6000 Ada PRO")),
    GPU("RTX6000Ada-48GB", "NVIDIA RTX 6000 Ada Generation 48GB", 51002867712, "nvidia",
        "deviceQuery 'NVIDIA RTX 6000 Ada Generation ... 48640 MBytes (51002867712 bytes)': "
        "github.com/thamada/nvidia-smi gls/RTX6000Ada_x8_deviceQuery.py",
        ("rtx6000ada", "rtx-6000-ada", "rtx 6000 ada generation"),
        *_runpod("0.00053", "L40, L40S, 6000 Ada PRO")),
    # NOTE: 39.586 GiB printed with three decimals, stored as the whole MiB it rounds to (40536 MiB).
    GPU("A100-40GB", "NVIDIA A100 40GB", 40536 * MiB, "nvidia",
        "GPUInspector.jl docs, page 'NVIDIA A100-SXM4-40GB (sm_80, 39.586 GiB)'",
        ("a100-40", "a100-40gb", "a100-sxm4-40gb")),
    GPU("A100-80GB", "NVIDIA A100 80GB", 85100068864, "nvidia",
        "deviceQuery 'NVIDIA A100-SXM4-80GB ... 81158 MBytes (85100068864 bytes)': "
        "github.com/thamada/nvidia-smi gls/A100SXMx4_deviceQuery.py",
        ("a100", "a100-80", "a100-80gb", "a100-sxm4-80gb"),
        *_runpod("0.00076", "A100 80 GB")),
    # NOTE: chosen to match this project's vLLM fixture (79.19 GiB); a deviceQuery on driver 12.7 showed
    # 81106 MiB (85045477376 bytes, thamada/nvidia-smi nvsim/H100SXMx8_deviceQuery.py).
    GPU("H100-80GB", "NVIDIA H100 80GB (SXM)", 81090 * MiB, "nvidia",
        "tests/fixtures/vllm_h100_runs.csv total_memory_gib 79.19 (vLLM 0.19.0 on 'NVIDIA H100 80GB HBM3'); "
        "torch repr \"name='NVIDIA H100 80GB HBM3' ... total_memory=81090MB\" in stanford-cs336 spring2025 lecture notes",
        ("h100", "h100-sxm", "h100-80", "h100-80gb-hbm3", "h100-sxm5"),
        *_runpod("0.00116", "H100 PRO 80 GB")),
    GPU("H100-NVL-94GB", "NVIDIA H100 NVL 94GB", 99861594112, "nvidia",
        "deviceQuery 'NVIDIA H100 NVL ... 95235 MBytes (99861594112 bytes)': github.com/thamada/nvidia-smi gls/H100NVLx2_deviceQuery.py",
        ("h100-nvl", "h100nvl")),
    GPU("H200-141GB", "NVIDIA H200 141GB", 150109880320, "nvidia",
        "measured on this workplace's device machine 2026-11-28 (driver 580.159.04, torch 2.11.0+cu130): "
        "total_memory == mem_get_info total == 150109880320 bytes; nvidia-smi 143771 MiB",
        ("h200", "h200-141", "h200-sxm"),
        *_runpod("0.00155", "H200 PRO 141 GB")),
    # NOTE: printed as GiB with two decimals; stored as the whole MiB it rounds to (182630 MiB, +-5 MiB).
    GPU("B200-180GB", "NVIDIA B200 180GB", 182630 * MiB, "nvidia",
        "'NVIDIA B200 ... Total Global Memory: 178.35 GB' (bytes / 2^30) in github.com/pytorch/ao pull 4002; "
        "nvidia-smi '183359MiB' in github.com/NVIDIA/TensorRT-LLM issue 10278",
        ("b200", "b200-192gb"),
        *_runpod("0.00240", "B200 180 GB")),
    GPU("MI300X-192GB", "AMD Instinct MI300X 192GB", 196592 * MiB, "amd",
        "hipDeviceProp '[GPU 0] AMD Instinct MI300X ... 196592: Total Global Memory (MB)': "
        "github.com/thamada/nvidia-smi nvsim/MI300X_x4_deviceQuery.py",
        ("mi300x", "mi300", "instinct-mi300x")),
)
# fmt: on


def _key(text: str) -> str:
    """Lookup key: case, spaces, dashes and underscores do not matter."""
    return re.sub(r"[\s\-_]+", "", text).lower()


_BY_KEY: dict[str, GPU] = {}
for _gpu in GPUS:
    for _name in (_gpu.name, _gpu.label, *_gpu.aliases):
        _BY_KEY.setdefault(_key(_name), _gpu)

# NOTE: ASCII digits only, no nested or adjacent ambiguous quantifiers (linear time), on at most
# _MAX_GPU_TEXT characters.
_SIZE = re.compile(r"(?:custom\s*:\s*)?([-+]?[0-9]{1,12}(?:\.[0-9]{1,12})?|[-+]?\.[0-9]{1,12})\s*([a-z]{0,8})", re.IGNORECASE | re.ASCII)
_UNITS = {"gb": GB, "gib": GiB, "tb": 10**12, "tib": 2**40}
_UNIT_LABELS = {"gb": "GB", "gib": "GiB", "tb": "TB", "tib": "TiB"}
_MIN_CUSTOM_BYTES = 10**8  # 0.1 GB: less is not a GPU (and would round to nothing)
_MAX_GPU_TEXT = 64
_SOME_GPUS = "L4-24GB, A100-80GB, H100-80GB, H200-141GB, MI300X-192GB"


def get_gpu(name: str) -> GPU:
    """A catalog GPU by name or alias (case, spaces and dashes ignored), or a custom size ("48GB", "80GiB")."""
    if name is not None and not isinstance(name, str):
        raise InputError(f"the GPU must be text, not {type(name).__name__}: use a catalog name ({_SOME_GPUS}, ...) or a size such as 48GB")
    text = (name or "").strip()
    if len(text) > _MAX_GPU_TEXT:
        raise InputError(f"the GPU is {len(text):,} characters long, more than {_MAX_GPU_TEXT}: use a catalog name ({_SOME_GPUS}, ...) or a size such as 48GB")
    found = _BY_KEY.get(_key(text))
    if found is not None:
        return found
    match = _SIZE.fullmatch(text)
    if match is None:
        raise InputError(f"unknown GPU {text!r}: use a catalog name ({_SOME_GPUS}, ...) or a size such as 48GB or 80GiB")
    number, unit = match.group(1), match.group(2).lower()
    if unit not in _UNITS:
        raise InputError(f"GPU size {text!r} needs a unit: write {number}GB (10^9 bytes) or {number}GiB (2^30 bytes)")
    size = float(number) * _UNITS[unit]
    if not math.isfinite(size) or not _MIN_CUSTOM_BYTES <= size <= _MAX_CUSTOM_BYTES:
        raise InputError(f"GPU size {text!r} is not a real GPU's memory: give a size from 0.1 GB to 10 TB, such as 48GB")
    canonical = f"{number.lstrip('+')}{_UNIT_LABELS[unit]}"
    return GPU(name=canonical, label=f"Custom {canonical}", memory_bytes=round(size))


@dataclass(frozen=True)
class GpuCount:
    """How many GPUs a load needs.

    count     the rule-of-thumb count: ceil(load / usable memory per GPU)
    tp_count  GPUs a valid parallel layout uses: tp_size GPUs per stage x pp_size pipeline stages
    nodes     8-GPU nodes that layout spans
    Unpacks as (count, tp_count, nodes).
    """

    count: int
    tp_count: int
    nodes: int
    tp_size: int = 1
    pp_size: int = 1

    def __iter__(self):
        return iter((self.count, self.tp_count, self.nodes))


def valid_tp(tp: int, spec: ModelSpec | None) -> bool:
    """vLLM's rule: tp divides the attention heads, and the KV heads split evenly or are replicated evenly."""
    if spec is None or not spec.num_attention_heads:
        return True
    heads = spec.num_attention_heads
    kv = spec.num_kv_heads or heads
    return heads % tp == 0 and (kv % tp == 0 or tp % kv == 0)


def nodes_for(count: int) -> int:
    """Nodes of GPUS_PER_NODE that `count` GPUs fill."""
    return -(-count // GPUS_PER_NODE)


def gpus_needed(load_bytes: int, gpu: GPU, spec: ModelSpec | None = None, usable_fraction: float = 1.0) -> GpuCount:
    """GPUs of this kind a load needs, plainly and under tensor parallelism.

    count = ceil(load_bytes / floor(gpu.memory_bytes * usable_fraction)), at least 1.
    Tensor-parallel sizes are 1, 2, 4, 8 (one node) and must be valid for the heads (`valid_tp`; any
    power of two when the spec has no heads, e.g. a raw parameter count):
    - if some valid size >= count exists, the smallest one is used: one stage, tp_count = that size;
    - otherwise the largest valid size <= 8 is used per pipeline stage, with ceil(count / size) stages:
      tp_count = size x stages, nodes = ceil(tp_count / 8). With 8 per stage this is "n nodes of 8":
      810e9 bytes of Llama-3.1-405B on H100-80GB -> count 10, tp_count 16, nodes 2.
      A 14-head model (valid sizes 1 and 2) needing 3 GPUs -> 2 stages of tp 2: tp_count 4, nodes 1.
    """
    if load_bytes < 0:
        raise InputError(f"memory load must not be negative, got {load_bytes} bytes: check the estimate's inputs")
    if not 0 < usable_fraction <= 1:
        raise InputError(f"usable fraction must be in (0, 1], got {usable_fraction}: give e.g. 0.9")
    usable = math.floor(gpu.memory_bytes * usable_fraction)
    count = max(1, -(-load_bytes // usable))

    sizes = [tp for tp in (1, 2, 4, GPUS_PER_NODE) if valid_tp(tp, spec)]
    one_stage = [tp for tp in sizes if tp >= count]
    if one_stage:
        tp_size, pp_size = one_stage[0], 1
    else:
        tp_size = sizes[-1]  # 1 is always valid, so sizes is never empty
        pp_size = -(-count // tp_size)
    tp_count = tp_size * pp_size
    return GpuCount(count, tp_count, nodes_for(tp_count), tp_size, pp_size)
