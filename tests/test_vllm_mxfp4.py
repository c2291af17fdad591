"""gpt-oss's MXFP4 experts as vLLM 0.19 lays them out per GPU generation, derived by hand from
openai/gpt-oss-20b's config: 24 MoE layers of 32 experts, hidden 2880, expert intermediate 2880."""

import json
from pathlib import Path

from llmmem.architectures import spec_from_config
from llmmem.engines.vllm_mxfp4 import FLASHINFER_SM100, MARLIN, TRITON, mxfp4_backend, mxfp4_expert_layout, mxfp4_experts_bytes

CONFIG = Path(__file__).resolve().parent / "fixtures" / "configs_new" / "openai__gpt-oss-20b.json"


def oss():
    return spec_from_config(json.loads(CONFIG.read_text()), name="gpt-oss-20b")


def test_backend_per_gpu_generation():
    assert mxfp4_backend("H100-80GB") == TRITON and mxfp4_backend("H200-141GB") == TRITON
    assert mxfp4_backend("A100-80GB") == MARLIN and mxfp4_backend("L40S-48GB") == MARLIN
    assert mxfp4_backend("B200-180GB") == FLASHINFER_SM100


def test_hopper_triton_layout_tp1():
    """Triton on H100: the intermediate 2880 is already a multiple of 64 (no create_weights padding).
    w13 values: 32 x (2 x 2880 = 5760 rows, a multiple of 16) x (2880 / 2 = 1440 bytes, a multiple of 32)
    = 265,420,800. w13 scales swizzled: rows 5760 -> 23 x 256 = 5888, 90 columns: 32 x 5888 x 90 =
    16,957,440, plus the loaded 32 x 5760 x 90 = 16,588,800 kept on the layer. w13 bias fp32 32 x 5760 x 4.
    w2 values 32 x 2880 x 1440 = 132,710,400; scales rows 2880 -> 3072: 32 x 3072 x 90 = 8,847,360 plus
    the loaded 32 x 2880 x 90 = 8,294,400; bias fp32 32 x 2880 x 4 = 368,640."""
    layout = mxfp4_expert_layout(oss(), tp=1, gpu_name="H100-80GB")
    assert (layout.intermediate, layout.hidden) == (2880, 2880)
    assert layout.tensors == {
        "w13_weight": 265_420_800, "w13_weight_scale": 16_957_440, "w13_weight_scale_loaded": 16_588_800,
        "w13_bias": 737_280, "w2_weight": 132_710_400, "w2_weight_scale": 8_847_360,
        "w2_weight_scale_loaded": 8_294_400, "w2_bias": 368_640,
    }
    assert mxfp4_experts_bytes(oss(), 1, "H100-80GB", 24) == 24 * 449_925_120
    # The checkpoint's own bytes (17/32 per weight, biases included) are 24 x 423,161,280: vLLM holds
    # 26,763,840 bytes more per layer on Hopper.
    assert 24 * 449_925_120 - oss().breakdown["experts"] * 17 // 32 == 24 * 26_763_840


def test_hopper_triton_layout_tp2_pads_the_intermediate():
    """tp=2: 2880 / 2 = 1440 per rank, rounded up to 64 -> 1472. w13: 32 x 2944 x 1440 values; scales
    rows 2944 -> 3072 (x 90) swizzled + 32 x 2944 x 90 loaded; w2: 32 x 2880 x 736 values, scales rows
    2880 -> 3072 x 46 columns + 32 x 2880 x 46 loaded."""
    layout = mxfp4_expert_layout(oss(), tp=2, gpu_name="H100-80GB")
    assert layout.intermediate == 1472
    assert layout.tensors["w13_weight"] == 32 * 2944 * 1440
    assert layout.tensors["w13_weight_scale"] == 32 * 3072 * 90
    assert layout.tensors["w2_weight"] == 32 * 2880 * 736
    assert layout.tensors["w2_weight_scale"] == 32 * 3072 * 46
    assert layout.tensors["w2_weight_scale_loaded"] == 32 * 2880 * 46


def test_marlin_pads_hidden_and_intermediate():
    """Marlin (A100): intermediate 2880 -> 2944 (x128), hidden 2880 -> 3072 (x256), bf16 biases:
    w13 32 x 5888 x 1536 + scales 32 x 5888 x 96 + bias 32 x 5888 x 2; w2 32 x 3072 x 1472 + scales
    32 x 3072 x 92 + bias 32 x 3072 x 2 = 461,815,808 per layer."""
    layout = mxfp4_expert_layout(oss(), tp=1, gpu_name="A100-80GB")
    assert (layout.intermediate, layout.hidden) == (2944, 3072)
    assert layout.bytes == 32 * (5888 * 1536 + 5888 * 96 + 5888 * 2 + 3072 * 1472 + 3072 * 92 + 3072 * 2) == 461_815_808


def test_gpt_oss_120b_weights_match_published_vllm_logs():
    """openai/gpt-oss-120b on one H100 80GB, measured by vLLM itself:
    - v0.14.1, "Using Triton backend", "Model loading took 64.38 GiB memory"
      (github.com/vllm-project/vllm/issues/33155);
    - v0.10.1 with the Marlin MXFP4 kernel ("Weight-only FP4 compression will be used leveraging the
      Marlin kernel"), "Model loading took 65.9651 GiB" (github.com/vllm-project/vllm/issues/23278).
    Counting the checkpoint's 17/32 byte per expert weight gives 60.73 GiB (-5.7%); the layouts above
    give 64.32 and 65.91 GiB (both within 0.1%). The other weights are the same in both cases."""
    from llmmem.engines import estimate_serving
    from llmmem.gpus import get_gpu
    from llmmem.serving import ServingOptions

    catalog = Path(__file__).resolve().parent.parent / "llmmem" / "catalog" / "configs" / "openai__gpt-oss-120b.json"
    big = spec_from_config(json.loads(catalog.read_text()), name="gpt-oss-120b")
    out = estimate_serving(big, ServingOptions(gpu=get_gpu("H100-80GB"), engine="vllm", max_model_len=131072))
    triton = out.weights_bytes_per_gpu
    assert abs(triton / 2**30 - 64.38) / 64.38 < 0.002
    experts = out.weights_breakdown_bytes["experts"]
    assert experts == 36 * mxfp4_expert_layout(big, 1, "H100-80GB").bytes
    marlin = triton - experts + 36 * mxfp4_expert_layout(big, 1, "H100-80GB", backend=MARLIN).bytes
    assert abs(marlin / 2**30 - 65.9651) / 65.9651 < 0.002
    checkpoint_only = triton - experts + big.breakdown["experts"] * 17 // 32
    assert checkpoint_only / 2**30 < 61
