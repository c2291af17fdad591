"""Pipeline stages hold the feed-forward weights of their own layers (spec.ffn_types), also where dense and
MoE layers interleave (Jamba, Nemotron-H, Llama 4 Maverick), not as if the dense layers came first."""

from llmmem.quantization import FORMATS
from llmmem.resolve import resolve
from llmmem.serving import weights_terms

FP16 = FORMATS["fp16"]


def terms(name, pp, stage):
    return weights_terms(resolve(name, offline=True).spec, FP16, 2, 1, pp, stage)


def test_jamba_alternating_dense_and_moe_layers_split_evenly():
    # 32 layers "DEDE...": each of 2 stages holds 8 dense MLPs (of 16) and 8 expert blocks (of 16)
    mlp, experts = 2_818_572_288, 45_097_156_608  # parameters (spec.breakdown)
    for stage in (0, 1):
        t = terms("ai21labs/AI21-Jamba-1.5-Mini", 2, stage)
        assert (t["mlp"], t["experts"]) == (mlp * 2 * 8 // 16, experts * 2 * 8 // 16)


def test_nemotron_h_experts_follow_its_pattern():
    # the 52 layers' feed-forwards ("-" = Mamba or attention only, "E" = MoE); layers 0-25 hold 11 of the 23 MoE blocks
    pattern = "-E-E--E-E-E--E-E-E--E-E-E--E-E-E--E-E-E-E--E-E-E-E-E"
    spec = resolve("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", offline=True).spec
    assert "".join({"moe": "E", "none": "-"}[f] for f in spec.ffn_types) == pattern
    assert (pattern[:26].count("E"), pattern[26:].count("E")) == (11, 12)
    experts = 29_374_808_064
    assert [terms("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", 2, s)["experts"] for s in (0, 1)] == [
        -(-experts * 2 * 11 // 23), -(-experts * 2 * 12 // 23)]


def test_deepseek_leading_dense_layers_stay_on_the_first_stage():
    first, second = terms("deepseek-ai/DeepSeek-V3", 2, 0), terms("deepseek-ai/DeepSeek-V3", 2, 1)
    assert (first["mlp"], second["mlp"]) == (1_189_085_184 * 2, 0)  # the 3 dense layers are layers 0-2
    assert (first["experts"], second["experts"]) == (653_908_770_816 * 2 * 28 // 58, 653_908_770_816 * 2 * 30 // 58)


def test_moe_layers_per_stage_follow_the_pattern():
    from llmmem.engines.vllm import moe_layers_in

    jamba = resolve("ai21labs/AI21-Jamba-1.5-Mini", offline=True).spec  # "DEDE..." (num_dense_layers says 1)
    assert (moe_layers_in(jamba, 0, 16), moe_layers_in(jamba, 16, 32)) == (8, 8)  # was 15 and 16
    gpt_oss = resolve("openai/gpt-oss-120b", offline=True).spec  # every layer MoE
    assert (moe_layers_in(gpt_oss, 0, 18), moe_layers_in(gpt_oss, 0, 36)) == (18, 36)
