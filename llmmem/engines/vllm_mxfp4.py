"""The MoE expert tensors vLLM 0.19 allocates for an MXFP4 checkpoint (gpt-oss), per GPU generation.

A checkpoint stores each expert as e2m1 values (two per byte), one e8m0 scale byte per 32 values and a
bf16 bias; counting those alone (17/32 byte per weight) misses what vLLM's MXFP4 MoE path does on load
(model_executor/layers/quantization/mxfp4.py, Mxfp4MoEMethod):

- get_mxfp4_backend picks the kernel: on Hopper (sm90) the OpenAI Triton kernels (TRITON; FlashInfer's
  SM90 path only with VLLM_USE_FLASHINFER_MOE_MXFP4_BF16=1), on Blackwell (sm100) FlashInfer's
  TRT-LLM kernels, on Ampere/Ada (no triton_kernels support below sm90) Marlin, on ROCm the Triton
  kernels with strided (unpadded) layouts.
- create_weights pads the per-rank intermediate size (and for some backends the hidden size):
  TRITON rounds the intermediate size up to 64; MARLIN the intermediate to 128 and the hidden to 256;
  the SM100 FlashInfer path both to 256; ROCm (gfx942) both to 128. w13 (gate/up) is E x 2I x H/2 bytes with E x 2I x H/32 scale
  bytes and E x 2I bf16 biases; w2 (down) E x H x I/2 with E x H x I/32 scales and E x H biases.
- process_weights_after_loading, TRITON: the biases become float32, and _swizzle_mxfp4
  (quantization/utils/mxfp4_utils.py) converts both tensors to triton_kernels' Hopper layouts:
  HopperMXValueLayout pads the (rows, bytes) value matrix to multiples of (16, 32) and
  HopperMXScaleLayout pads the scale rows to 2 x num_warps x 2 x 8 = 256 (num_warps 8) and the scale
  columns to 2. The swizzled scales live in the kernel's PrecisionConfig while the layer keeps its
  loaded w13/w2_weight_scale parameters (only the value tensors are deleted), so on Hopper the scales
  are held twice. The SM100 FlashInfer path also keeps float32 biases; Marlin keeps bf16 biases.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import ModelSpec

MXFP4_BLOCK = 32
TRITON, MARLIN, FLASHINFER_SM100, ROCM_TRITON = "triton", "marlin", "flashinfer_sm100", "rocm_triton"
AMPERE_ADA_TAGS = ("A100", "A10G", "A40", "L4", "L40", "RTX", "T4")
TRITON_NUM_WARPS = 8  # Mxfp4MoEMethod: 8 warps unless a batched (pplx / DeepEP low-latency) MoE


def round_up(x: int, multiple: int) -> int:
    return -(-x // multiple) * multiple


def mxfp4_backend(gpu_name: str) -> str:
    """The backend get_mxfp4_backend picks on this GPU with vLLM's default environment."""
    name = gpu_name.upper()
    if any(tag in name for tag in ("B200", "B100", "B300")):
        return FLASHINFER_SM100
    if name.startswith("MI"):
        return ROCM_TRITON
    if any(name.startswith(tag) for tag in AMPERE_ADA_TAGS):
        return MARLIN  # triton_kernels needs sm90+
    # NOTE: Hopper (H100, H200, GH200), and a custom size, taken as a Hopper card.
    return TRITON


@dataclass(frozen=True)
class Mxfp4ExpertLayout:
    """One MoE layer's expert tensors on one GPU, in bytes."""

    backend: str
    intermediate: int  # per-rank intermediate size after padding
    hidden: int  # hidden size after padding
    tensors: dict[str, int]

    @property
    def bytes(self) -> int:
        return sum(self.tensors.values())


def _hopper_value_bytes(experts: int, rows: int, row_bytes: int) -> int:
    return experts * round_up(rows, 16) * round_up(row_bytes, 32)


def _hopper_scale_bytes(experts: int, rows: int, cols: int) -> int:
    return experts * round_up(rows, 2 * TRITON_NUM_WARPS * 2 * 8) * round_up(cols, 2)


def mxfp4_expert_layout(spec: ModelSpec, tp: int, gpu_name: str, backend: str | None = None) -> Mxfp4ExpertLayout:
    """What one MoE layer's experts take on one GPU under tensor parallelism (experts split by
    intermediate size, as FusedMoE does without expert parallelism). `backend` overrides the GPU's
    default (e.g. MARLIN: VLLM_MXFP4_USE_MARLIN=1, or builds without triton_kernels)."""
    backend = backend or mxfp4_backend(gpu_name)
    experts = spec.num_experts or 1
    inter = -(-(spec.moe_intermediate_size or spec.intermediate_size or 0) // tp)
    hidden = spec.hidden_size or 0
    if backend == MARLIN:
        inter, hidden = round_up(inter, 128), round_up(hidden, 256)
    elif backend == FLASHINFER_SM100:
        inter, hidden = round_up(inter, 256), round_up(hidden, 256)
    elif backend == ROCM_TRITON:
        inter, hidden = round_up(inter, 128), round_up(hidden, 128)  # get_padding_alignment on gfx942
    else:
        inter = round_up(inter, 64)
    if backend == TRITON:
        tensors = {
            "w13_weight": _hopper_value_bytes(experts, 2 * inter, hidden // 2),
            "w13_weight_scale": _hopper_scale_bytes(experts, 2 * inter, hidden // MXFP4_BLOCK),
            "w13_weight_scale_loaded": experts * 2 * inter * (hidden // MXFP4_BLOCK),
            "w13_bias": experts * 2 * inter * 4,
            "w2_weight": _hopper_value_bytes(experts, hidden, inter // 2),
            "w2_weight_scale": _hopper_scale_bytes(experts, hidden, inter // MXFP4_BLOCK),
            "w2_weight_scale_loaded": experts * hidden * (inter // MXFP4_BLOCK),
            "w2_bias": experts * hidden * 4,
        }
    else:
        bias_bytes = 2 if backend == MARLIN else 4  # NOTE: the Triton and TRT-LLM paths keep fp32 biases
        tensors = {
            "w13_weight": experts * 2 * inter * hidden // 2,
            "w13_weight_scale": experts * 2 * inter * (hidden // MXFP4_BLOCK),
            "w13_bias": experts * 2 * inter * bias_bytes,
            "w2_weight": experts * hidden * inter // 2,
            "w2_weight_scale": experts * hidden * (inter // MXFP4_BLOCK),
            "w2_bias": experts * hidden * bias_bytes,
        }
    return Mxfp4ExpertLayout(backend, inter, hidden, tensors)


def mxfp4_experts_bytes(spec: ModelSpec, tp: int, gpu_name: str, moe_layers: int) -> int:
    """Expert bytes of `moe_layers` MoE layers on one GPU."""
    return moe_layers * mxfp4_expert_layout(spec, tp, gpu_name).bytes
