"""architectures.spec_from_config: parameter counts to the unit, as transformers allocates them.

Every count here was measured with transformers 5.24.0 (torch 2.13.0 CPU): the causal-LM class built
from the config on the meta device, `sum(p.numel() for p in model.parameters())` (tied tensors once).
For a multimodal wrapper, the text causal LM (Gemma3ForCausalLM, Llama4ForCausalLM, MistralForCausalLM)
built from its text_config.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmmem.architectures import spec_from_config
from llmmem.errors import ConfigError
from llmmem.spec import (
    BREAKDOWN_KEYS,
    CHUNKED_ATTENTION,
    FULL_ATTENTION,
    LINEAR_ATTENTION,
    MAMBA,
    NO_CACHE,
    SHORT_CONV,
    SLIDING_ATTENTION,
    GatedDeltaNet,
    MambaMixer,
    ShortConv,
)

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "tests" / "fixtures" / "configs"  # the reference copies, exactly as published
CATALOG = ROOT / "llmmem" / "catalog" / "configs"
EXTRA = ROOT / "tests" / "fixtures" / "extra_configs"
NEW = ROOT / "tests" / "fixtures" / "configs_new"  # published configs of newer families (param_counts_new.tsv)
NEW_ROWS = list(csv.DictReader((ROOT / "tests" / "fixtures" / "param_counts_new.tsv").open(), delimiter="\t"))
FLAG_VARIANTS = json.loads((ROOT / "tests" / "fixtures" / "flag_variants.json").read_text())
FIXTURE_ROWS = list(csv.DictReader((ROOT / "tests" / "fixtures" / "param_counts.tsv").open(), delimiter="\t"))
S, F = SLIDING_ATTENTION, FULL_ATTENTION


def load(name: str) -> dict:
    return json.loads((CONFIGS / name).read_text())


def spec_of(name: str):
    return spec_from_config(load(name))


# ----------------------------------------------------------------------------- (1) the 38 fixtures


@pytest.mark.parametrize("row", FIXTURE_ROWS, ids=[r["config"] for r in FIXTURE_ROWS])
def test_fixture_count_is_exact(row):
    spec = spec_of(row["config"])
    assert spec.parameters == int(row["parameters"])
    assert spec.model_type == row["model_type"]
    assert spec.approximate is False
    assert sum(spec.breakdown.values()) == spec.parameters
    assert set(spec.breakdown) <= set(BREAKDOWN_KEYS)


def test_every_fixture_config_is_in_the_catalog():
    assert len(FIXTURE_ROWS) == 38
    assert {r["config"] for r in FIXTURE_ROWS} <= {p.name for p in CATALOG.glob("*.json")}


# ----------------------------------------------------------------------------- (2) the other families

# Published config.json values (huggingface.co/<repo>/blob/main/config.json), trimmed to what sizes
# them; counts measured with transformers 5.24.0 (see the module docstring).
EXTRA_CASES = [
    # file in tests/fixtures/extra_configs, model_type, transformers 5.24.0 count, where the values come from
    ("EleutherAI__pythia-1.4b.json", "gpt_neox", 1_414_647_808, "huggingface.co/EleutherAI/pythia-1.4b"),
    ("EleutherAI__gpt-j-6b.json", "gptj", 6_050_882_784, "huggingface.co/EleutherAI/gpt-j-6b"),
    # bigcode/starcoder2-3b; values also in NVIDIA/TensorRT-LLM tests/unittest/_torch/modeling/test_modeling_starcoder2.py
    ("bigcode__starcoder2-3b.json", "starcoder2", 3_030_371_328, "huggingface.co/bigcode/starcoder2-3b"),
    ("allenai__OLMo-2-1124-7B.json", "olmo2", 7_298_617_344, "huggingface.co/allenai/OLMo-2-1124-7B"),
    ("databricks__dbrx-base.json", "dbrx", 131_596_523_520, "huggingface.co/databricks/dbrx-base"),
    # Qwen/Qwen1.5-MoE-A2.7B; the same values appear in public planner fixtures (find_string id 71463455676)
    ("Qwen__Qwen1.5-MoE-A2.7B.json", "qwen2_moe", 14_315_784_192, "huggingface.co/Qwen/Qwen1.5-MoE-A2.7B"),
    # falcon-40b: new_decoder_architecture, 8 KV heads, two parallel norms
    ("tiiuae__falcon-40b.json", "falcon", 41_303_293_952, "huggingface.co/tiiuae/falcon-40b"),
    # falcon-rw-1b: alibi, biases, classic multi-head attention, serial (not parallel) block
    ("tiiuae__falcon-rw-1b.json", "falcon", 1_311_625_216, "huggingface.co/tiiuae/falcon-rw-1b"),
    # falcon-11B: new architecture with one parallel norm, explicit ffn_hidden_size
    ("tiiuae__falcon-11B.json", "falcon", 10_836_484_096, "huggingface.co/tiiuae/falcon-11B"),
    # Llama 4, whole model (text + vision tower + projector, llmmem/multimodal.py): Scout is the published
    # config (tests/fixtures/configs_new, with its vision_config); the Maverick copy (ai-dynamo/aiconfigurator
    # aic-core/src/aiconfigurator_core/model_configs, commit 64c5ddb697dd8ad88a938f65b23d25cf5f45de12) gives a
    # vision_config without vision_output_dim, so transformers builds Llama4VisionConfig's default for it
    ("meta-llama__Llama-4-Scout-17B-16E-Instruct.json", "llama4", 108_641_793_536, "configs_new"),
    ("meta-llama__Llama-4-Maverick-17B-128E-Instruct.json", "llama4", 401_167_027_200, "aiconfigurator"),
    # Gemma 3 multimodal (published config): text_config leaves vocab, heads, head_dim to Gemma3TextConfig's
    # defaults; SigLIP tower without its pooling head ("vision_use_head": false) and the projector
    ("google__gemma-3-4b-it.json", "gemma3", 4_300_079_472, "huggingface.co/google/gemma-3-4b-it"),
    ("microsoft__phi-1_5.json", "phi", 1_418_270_720, "huggingface.co/microsoft/phi-1_5"),
    # opt-350m: word_embed_proj_dim 512 != hidden 1024 (project_in/out), post-norm (no final norm)
    ("facebook__opt-350m.json", "opt", 331_196_416, "huggingface.co/facebook/opt-350m"),
] + [
    # Newer families with no published fixture: configs built for llmmem with the published shapes of the
    # named model (sizes, layer pattern, flags as the model card's config.json gives them, other keys
    # dropped; not verbatim copies). Counts computed by transformers 5.24 on the meta device, via
    # bench/check_param_counts.py (the class architectures[0] names).
    (name, model_type, count, "built for llmmem from the published shapes; count: transformers 5.24 meta device")
    for name, model_type, count in [
        ("LiquidAI__LFM2-1.2B.json", "lfm2", 1_170_340_608),  # block_ff_dim 12288 -> 8192 (2/3, multiple of 256)
        ("LiquidAI__LFM2-350M.json", "lfm2", 354_483_968),
        ("LiquidAI__LFM2-8B-A1B.json", "lfm2_moe", 8_339_929_856),  # 2 dense layers, then 32 experts
        ("state-spaces__mamba-130m-hf.json", "mamba", 129_135_360),
        ("tiiuae__falcon-mamba-7b.json", "falcon_mamba", 7_272_665_088),
        ("LGAI-EXAONE__EXAONE-4.0-32B.json", "exaone4", 32_003_216_384),
        ("LGAI-EXAONE__EXAONE-4.0-1.2B.json", "exaone4", 1_279_391_488),
        ("allenai__Olmo-3-1025-7B.json", "olmo3", 7_298_011_136),
        ("allenai__Olmo-3-1125-32B.json", "olmo3", 32_233_522_176),
        ("mistralai__Ministral-3-3B-text.json", "ministral3", 3_429_006_336),
        ("zai-org__GLM-4.5-Air.json", "glm4_moe", 106_852_245_504),
        ("zai-org__GLM-4.5.json", "glm4_moe", 352_797_814_784),
        ("baidu__ERNIE-4.5-21B-A3B-PT.json", "ernie4_5_moe", 21_825_437_888),
        ("baidu__ERNIE-4.5-300B-A47B-PT.json", "ernie4_5_moe", 299_484_163_264),
        ("tencent__Hunyuan-A13B-Instruct.json", "hunyuan_v1_moe", 80_393_183_232),
        ("tencent__Hunyuan-7B-Instruct.json", "hunyuan_v1_dense", 7_504_568_320),
        ("nvidia__Nemotron-H-8B-Base-8K.json", "nemotron_h", 8_100_852_736),  # '-' MLP blocks, no MoE
        ("ai21labs__AI21-Jamba-Large-1.5.json", "jamba", 398_555_145_696),
    ]
]


@pytest.mark.parametrize("name,model_type,expected,source", EXTRA_CASES, ids=[c[0] for c in EXTRA_CASES])
def test_other_family_count_is_exact(name, model_type, expected, source):
    spec = spec_from_config(json.loads((EXTRA / name).read_text()))
    assert spec.parameters == expected
    assert spec.model_type == model_type
    assert spec.approximate is False
    assert sum(spec.breakdown.values()) == spec.parameters


# Small configs that exercise flags no published fixture above does (transformers 5.24.0 counts).
INLINE_CASES = [
    (
        "llama with attention and MLP biases, explicit head_dim",
        {"model_type": "llama", "hidden_size": 256, "num_hidden_layers": 3, "num_attention_heads": 8,
         "num_key_value_heads": 2, "intermediate_size": 688, "vocab_size": 1000, "attention_bias": True,
         "mlp_bias": True, "head_dim": 64},
        3_089_952,
    ),
    (
        "qwen3_moe with decoder_sparse_step 2 and a dense mlp_only layer, tied",
        {"model_type": "qwen3_moe", "hidden_size": 256, "num_hidden_layers": 6, "num_attention_heads": 4,
         "num_key_value_heads": 2, "head_dim": 64, "intermediate_size": 512, "moe_intermediate_size": 64,
         "num_experts": 8, "num_experts_per_tok": 2, "decoder_sparse_step": 2, "mlp_only_layers": [3],
         "vocab_size": 1000, "tie_word_embeddings": True},
        3_803_136,
    ),
    (
        # transformers builds no MTP layer (num_nextn_predict_layers) and ignores moe_layer_freq
        "deepseek_v3 without q compression, shared experts, MTP key",
        {"model_type": "deepseek_v3", "hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
         "num_key_value_heads": 4, "intermediate_size": 512, "moe_intermediate_size": 64, "n_routed_experts": 8,
         "num_experts_per_tok": 2, "n_shared_experts": 2, "first_k_dense_replace": 1, "moe_layer_freq": 2,
         "n_group": 1, "topk_group": 1, "q_lora_rank": None, "kv_lora_rank": 64, "qk_nope_head_dim": 32,
         "qk_rope_head_dim": 16, "v_head_dim": 32, "vocab_size": 1000, "num_nextn_predict_layers": 1},
        2_863_616,
    ),
    (
        # Mistral3Config ties the LM head by default; pixtral's defaults for the rest of the tower
        "mistral3 wrapper: text model, pixtral tower and projector",
        {"model_type": "mistral3", "vision_config": {"model_type": "pixtral", "hidden_size": 64},
         "text_config": {"model_type": "mistral", "hidden_size": 256, "num_hidden_layers": 2,
                         "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 32,
                         "intermediate_size": 512, "vocab_size": 1000, "sliding_window": None}},
        20_789_632,
    ),
]  # fmt: skip


@pytest.mark.parametrize("what,config,expected", INLINE_CASES, ids=[c[0] for c in INLINE_CASES])
def test_flag_variant_count_is_exact(what, config, expected):
    assert spec_from_config(config).parameters == expected


# tests/fixtures/flag_variants.json: small configs of the newer families that each turn on flags the
# published configs leave off (biases, latent MoE, explicit layer lists, per-layer top-k, ...); the
# count next to each is transformers 5.24's on the meta device (bench/check_param_counts.py).
@pytest.mark.parametrize("name", sorted(FLAG_VARIANTS))
def test_newer_family_flag_variant_is_exact(name):
    case = FLAG_VARIANTS[name]
    spec = spec_from_config(case["config"], use_transformers=False)
    assert spec.parameters == case["transformers_5_24"]
    assert spec.counted_by == "exact" and sum(spec.breakdown.values()) == spec.parameters


# ----------------------------------------------------------------------------- (2b) configs_new, whole models

# Rows whose whole model needs the vision helper's modules (vision towers, projectors, encoders); until
# they are merged, those rows are skipped, not expected to fail.
_NEEDS_MODULE = {
    "qwen2_5_vl": "llmmem.multimodal", "qwen3_vl": "llmmem.multimodal", "qwen3_5": "llmmem.multimodal",
    "gemma3": "llmmem.multimodal", "llama4": "llmmem.multimodal", "mistral3": "llmmem.multimodal",
    "bert": "llmmem.encoders", "roberta": "llmmem.encoders", "t5": "llmmem.encoders", "vit": "llmmem.encoders",
}  # fmt: skip
# transformers 5.24 has no kimi_k2 type: its architectures class (DeepseekV3ForCausalLM), per the table's note.
_KIMI_K2_AS_DEEPSEEK_V3 = 1_026_408_209_408


def _new_row_param(row):
    module = _NEEDS_MODULE.get(row["model_type"])
    missing = module is not None and importlib.util.find_spec(module) is None
    reason = f"{module} (multimodal towers / encoders) is not merged yet"
    return pytest.param(row, id=row["config"], marks=pytest.mark.skipif(missing, reason=reason))


@pytest.mark.parametrize("row", [_new_row_param(r) for r in NEW_ROWS])
def test_every_new_config_is_exact(row):
    spec = spec_from_config(json.loads((NEW / row["config"]).read_text()), use_transformers=False)
    expected = int(row["full_model_params"]) if row["full_model_params"] else _KIMI_K2_AS_DEEPSEEK_V3
    assert spec.parameters == expected
    assert spec.counted_by == "exact" and spec.approximate is False
    assert sum(spec.breakdown.values()) == spec.parameters and set(spec.breakdown) <= set(BREAKDOWN_KEYS)


# The text model of the multimodal rows: transformers 5.24's causal LM built from text_config alone.
NEW_TEXT_PARTS = [
    ("Qwen__Qwen3.5-27B.json", 26_895_998_464),  # Qwen3_5ForCausalLM
    ("google__gemma-3-4b-it.json", 3_880_263_168),  # Gemma3ForCausalLM
    ("meta-llama__Llama-4-Scout-17B-16E-Instruct.json", 107_769_861_120),  # Llama4ForCausalLM
    ("mistralai__Devstral-Small-2-24B-Instruct-2512.json", 23_572_403_200),  # Ministral3ForCausalLM
]


@pytest.mark.parametrize("name,expected", NEW_TEXT_PARTS, ids=[c[0] for c in NEW_TEXT_PARTS])
def test_text_part_of_new_multimodal_configs_is_exact(name, expected):
    spec = spec_from_config(json.loads((NEW / name).read_text()), use_transformers=False)
    assert spec.part_totals["text"] == expected


def test_deepseek_v2_lite_q_lora_rank_absent_takes_the_class_default():
    # NOTE: the fixture copy has no q_lora_rank key, so transformers uses DeepseekV2Config's 1536;
    # the Hub file says "q_lora_rank": null (no q compression): 15,706,484,224 (transformers 5.24.0).
    config = load("deepseek-ai__DeepSeek-V2-Lite.json")
    assert spec_from_config(config).parameters == 15_748_993_024
    assert spec_from_config({**config, "q_lora_rank": None}).parameters == 15_706_484_224


# ----------------------------------------------------------------------------- (3) fields


def test_llama_breakdown_is_the_closed_form():
    spec = spec_of("meta-llama__Llama-3.1-8B.json")
    h, layers, inter, vocab = 4096, 32, 14336, 128256
    assert dict(spec.breakdown) == {
        "embedding": vocab * h,
        "lm_head": vocab * h,
        "attention_qo": layers * 2 * h * h,
        "attention_kv": layers * 2 * h * 1024,
        "mlp": layers * 3 * h * inter,
        "norms": (2 * layers + 1) * h,
    }
    assert spec.largest_layer_parameters == vocab * h == 525_336_576  # the embedding beats one block
    assert (spec.num_layers, spec.hidden_size, spec.num_attention_heads, spec.num_kv_heads) == (32, 4096, 32, 8)
    assert (spec.head_dim, spec.intermediate_size, spec.vocab_size) == (128, 14336, 128256)
    assert spec.active_parameters is None and spec.tie_word_embeddings is False
    assert spec.torch_dtype == "bfloat16"


def test_largest_layer_is_a_block_when_blocks_are_bigger():
    # Llama-3.1-405B: one block (q/o 2*16384^2, k/v 2*16384*1024, MLP 3*16384*53248, 2 norms)
    assert spec_of("meta-llama__Llama-3.1-405B.json").largest_layer_parameters == 3_187_703_808
    # DeepSeek-V3: one MoE block, 256 routed experts + 1 shared
    assert spec_of("deepseek-ai__DeepSeek-V3.json").largest_layer_parameters == 11_507_286_016


def test_tied_embeddings_count_once():
    gemma = spec_of("google__gemma-2b.json")  # gemma ties by default (no key in its config)
    assert gemma.tie_word_embeddings is True and "lm_head" not in gemma.breakdown
    gpt2 = spec_of("openai-community__gpt2.json")
    assert gpt2.tie_word_embeddings is True
    assert gpt2.breakdown["position_embedding"] == 1024 * 768
    falcon = spec_of("tiiuae__falcon-7b.json")
    assert falcon.tie_word_embeddings is True and falcon.num_kv_heads == 1  # multi-query


def test_mixtral_active_parameters():
    spec = spec_of("mistralai__Mixtral-8x7B-v0.1.json")
    experts = 32 * 8 * 3 * 4096 * 14336
    assert spec.breakdown["experts"] == experts
    assert spec.active_parameters == spec.parameters - experts * 6 // 8 == 12_879_925_248  # "12.9B active"
    assert (spec.num_experts, spec.experts_per_token, spec.moe_intermediate_size) == (8, 2, 14336)


def test_qwen3_30b_a3b_active_parameters():
    spec = spec_of("Qwen__Qwen3-30B-A3B.json")
    experts = 48 * 128 * 3 * 2048 * 768
    assert spec.breakdown["experts"] == experts
    assert spec.active_parameters == spec.parameters - experts + experts * 8 // 128 == 3_353_032_704  # "3.3B"
    assert spec.head_dim == 128 and spec.num_shared_experts == 0


def test_deepseek_v3_fields_and_active_parameters():
    spec = spec_of("deepseek-ai__DeepSeek-V3.json")
    experts = 58 * 256 * 3 * 7168 * 2048  # 61 layers, the first 3 dense
    assert spec.breakdown["experts"] == experts
    assert spec.breakdown["shared_experts"] == 58 * 3 * 7168 * 2048
    assert spec.active_parameters == spec.parameters - experts + experts * 8 // 256 == 37_552_282_624  # "37B"
    assert (spec.num_experts, spec.experts_per_token, spec.num_shared_experts, spec.num_dense_layers) == (256, 8, 1, 3)
    assert (spec.kv_lora_rank, spec.qk_rope_head_dim, spec.head_dim, spec.v_head_dim) == (512, 64, 192, 128)
    assert spec.is_mla and spec.is_moe
    # q_a_proj 7168x1536 and kv_a_proj_with_mqa 7168x(512+64): what every TP rank holds whole
    assert spec.breakdown["attention_replicated"] == 61 * (7168 * 1536 + 7168 * 576)


def test_gpt_oss_20b_fields_and_active_parameters():
    spec = spec_of("openai__gpt-oss-20b.json")
    per_expert = 2880 * 2 * 2880 + 2 * 2880 + 2880 * 2880 + 2880  # gate_up and down, with biases
    assert spec.breakdown["experts"] == 24 * 32 * per_expert
    assert spec.breakdown["other"] == 24 * 64  # attention sinks
    assert spec.breakdown["router"] == 24 * (2880 * 32 + 32)
    # 4.19B with the embedding table; without it (201088 x 2880) 3.61B, OpenAI's "3.6B active"
    assert spec.active_parameters == spec.parameters - 24 * 28 * per_expert == 4_187_440_704
    assert spec.layer_types == (S, F) * 12 and spec.sliding_window == 128
    assert spec.quantization == {
        "modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"],
        "quant_method": "mxfp4",
    }


def test_gemma2_alternates_sliding_and_full_from_layer_0():
    spec = spec_of("google__gemma-2-9b.json")
    assert spec.layer_types == (S, F) * 21 and spec.sliding_window == 4096


def test_gemma3_every_sixth_layer_is_full():
    spec = spec_of("google__gemma-3-1b-it.json")
    assert len(spec.layer_types) == 26
    assert [i for i, t in enumerate(spec.layer_types) if t == F] == [5, 11, 17, 23]
    assert spec.sliding_window == 512


def test_sliding_window_only_where_transformers_applies_it():
    assert spec_of("mistralai__Mistral-7B-v0.1.json").layer_types == (S,) * 32  # window on every layer
    v03 = spec_of("mistralai__Mistral-7B-v0.3.json")  # "sliding_window": null
    assert v03.layer_types == (F,) * 32 and v03.sliding_window is None
    qwen = spec_of("Qwen__Qwen2.5-7B.json")  # sliding_window given but use_sliding_window false
    assert set(qwen.layer_types) == {F} and qwen.sliding_window is None


def test_explicit_head_dim_wins_over_hidden_over_heads():
    assert spec_of("Qwen__Qwen3-0.6B.json").head_dim == 128  # 1024 / 16 would be 64
    assert spec_of("google__gemma-7b.json").head_dim == 256  # 3072 / 16 would be 192
    # Qwen3Config's own default is 128 when the key is absent, and transformers uses it
    config = load("Qwen__Qwen3-0.6B.json")
    del config["head_dim"]
    spec = spec_from_config(config)
    assert spec.head_dim == 128 and spec.parameters == 596_049_920


def test_wrapper_config_shape_fields_are_the_text_model():
    spec = spec_from_config(json.loads((EXTRA / "meta-llama__Llama-4-Scout-17B-16E-Instruct.json").read_text()))
    assert spec.model_type == "llama4" and spec.num_layers == 48  # the outer type; the text model's shape
    assert spec.part_totals["text"] == 107_769_861_120  # Llama4ForCausalLM from text_config
    assert (spec.num_experts, spec.experts_per_token, spec.num_shared_experts) == (16, 1, 1)
    assert spec.active_parameters == 17_172_894_720  # "17B active"
    assert spec.num_dense_layers == 0
    maverick = spec_from_config(json.loads((EXTRA / "meta-llama__Llama-4-Maverick-17B-128E-Instruct.json").read_text()))
    assert maverick.breakdown["experts"] == 24 * 128 * 3 * 5120 * 8192  # MoE on every other layer
    assert maverick.breakdown["mlp"] == 24 * 3 * 5120 * 16384  # intermediate_size_mlp on the others
    assert maverick.num_dense_layers == 1 and maverick.active_parameters == 17_184_691_200
    gemma = spec_from_config(json.loads((EXTRA / "google__gemma-3-4b-it.json").read_text()))
    assert (gemma.vocab_size, gemma.num_attention_heads, gemma.head_dim, gemma.tie_word_embeddings) == (262208, 8, 256, True)
    assert gemma.sliding_window == 1024 and gemma.torch_dtype == "bfloat16"


def test_name_and_dtype_sources():
    assert spec_from_config(load("facebook__opt-125m.json")).name == "facebook/opt-125m"  # _name_or_path
    assert spec_of("tiiuae__falcon-7b.json").name == "falcon"  # falls back to model_type
    assert spec_from_config(load("tiiuae__falcon-7b.json"), name="tiiuae/falcon-7b").name == "tiiuae/falcon-7b"
    config = {**load("Qwen__Qwen3-0.6B.json"), "dtype": "float16"}
    del config["torch_dtype"]
    assert spec_from_config(config).torch_dtype == "float16"  # the newer key


# ----------------------------------------------------------------------------- (4) fallback and errors

LLAMA_LIKE = {"hidden_size": 512, "num_hidden_layers": 4, "num_attention_heads": 8, "intermediate_size": 1024, "vocab_size": 1000}


def test_unknown_model_type_is_approximate_llama_like():
    spec = spec_from_config({**LLAMA_LIKE, "model_type": "brand_new_llm"})
    assert spec.approximate is True
    assert spec.parameters == spec_from_config({**LLAMA_LIKE, "model_type": "llama"}).parameters
    assert spec_from_config(LLAMA_LIKE).approximate is True  # no model_type at all


@pytest.mark.parametrize(
    "drop,named",
    [("hidden_size", "hidden_size"), ("num_hidden_layers", "num_hidden_layers"),
     ("num_attention_heads", "num_attention_heads"), ("vocab_size", "vocab_size"),
     ("intermediate_size", "intermediate_size")],
)  # fmt: skip
def test_missing_field_is_a_one_line_config_error(drop, named):
    config = {k: v for k, v in {**LLAMA_LIKE, "model_type": "llama"}.items() if k != drop}
    with pytest.raises(ConfigError) as info:
        spec_from_config(config)
    message = str(info.value)
    assert named in message and "\n" not in message
    assert message.endswith("or a parameter count like 7B")


def test_bad_values_and_non_objects_are_config_errors():
    with pytest.raises(ConfigError, match="hidden_size"):
        spec_from_config({**LLAMA_LIKE, "model_type": "llama", "hidden_size": "big"})
    with pytest.raises(ConfigError, match="num_hidden_layers"):
        spec_from_config({**LLAMA_LIKE, "model_type": "llama", "num_hidden_layers": 0})
    with pytest.raises(ConfigError):
        spec_from_config(["not", "a", "config"])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="num_experts"):
        spec_from_config({**LLAMA_LIKE, "model_type": "mixtral", "num_local_experts": 0})


# ----------------------------------------------------------------------------- (5) properties


def llama_block(h, heads, kv_heads, inter):
    head_dim = h // heads
    return 2 * h * heads * head_dim + 2 * h * kv_heads * head_dim + 3 * h * inter + 2 * h


def llama_closed_form(h, layers, heads, kv_heads, inter, vocab, tied):
    return vocab * h * (1 if tied else 2) + h + layers * llama_block(h, heads, kv_heads, inter)


@settings(max_examples=60, deadline=None)
@given(
    heads=st.sampled_from([1, 2, 4, 8, 16, 32]),
    head_dim=st.sampled_from([16, 64, 128]),
    kv_div=st.sampled_from([1, 2, 4, 8]),
    layers=st.integers(1, 120),
    inter=st.integers(1, 60000),
    vocab=st.integers(1, 300000),
    tied=st.booleans(),
)
def test_llama_count_is_the_closed_form_and_grows_with_layers(heads, head_dim, kv_div, layers, inter, vocab, tied):
    kv_heads = max(1, heads // kv_div)
    h = heads * head_dim
    config = {"model_type": "llama", "hidden_size": h, "num_hidden_layers": layers, "num_attention_heads": heads,
              "num_key_value_heads": kv_heads, "intermediate_size": inter, "vocab_size": vocab, "tie_word_embeddings": tied}
    spec = spec_from_config(config)
    assert spec.parameters == llama_closed_form(h, layers, heads, kv_heads, inter, vocab, tied)
    deeper = spec_from_config({**config, "num_hidden_layers": layers + 1})
    block = llama_block(h, heads, kv_heads, inter)
    assert deeper.parameters - spec.parameters == block > 0
    assert spec.largest_layer_parameters == max(block, vocab * h)


# ----------------------------------------------------------------------------- (6) hybrids: layer kinds and state dims


def new_spec(name: str):
    return spec_from_config(json.loads((NEW / name).read_text()), use_transformers=False)


def test_qwen3_next_layers_state_and_mtp():
    spec = new_spec("Qwen__Qwen3-Next-80B-A3B-Thinking.json")
    L = LINEAR_ATTENTION
    assert spec.layer_types == (L, L, L, FULL_ATTENTION) * 12  # full_attention_interval 4
    assert spec.linear_attention == GatedDeltaNet(num_k_heads=16, num_v_heads=32, head_k_dim=128, head_v_dim=128, conv_kernel=4)
    assert spec.mamba is None and spec.is_hybrid and spec.layers_of_kind(FULL_ATTENTION) == 12
    assert (spec.num_attention_heads, spec.num_kv_heads, spec.head_dim) == (16, 2, 256)
    assert (spec.num_experts, spec.experts_per_token, spec.num_shared_experts) == (512, 10, 1)
    # "A3B": 3.87B with the embedding and LM head (2 x 151936 x 2048), 3.25B without
    assert spec.active_parameters == 3_874_929_408
    # gated delta-net per layer: in_proj_qkvz + in_proj_ba + out_proj; conv1d (no bias), dt_bias, A_log, norm
    key, value = 16 * 128, 32 * 128
    assert spec.breakdown["ssm_proj"] == 36 * (2048 * (2 * key + 2 * value) + 2048 * 2 * 32 + value * 2048)
    assert spec.breakdown["ssm_other"] == 36 * ((2 * key + value) * 4 + 2 * 32 + 128)
    # the checkpoint's MTP layer (one full-attention MoE block, fc 2h -> h, three norms) is not built
    assert (spec.mtp_layers, spec.mtp_parameters) == (1, 1_650_471_424)
    assert spec.notes[0].startswith("the checkpoint also ships 1 multi-token-prediction layer (1,650,471,424 parameters)")


def test_nemotron_h_blocks_follow_the_pattern():
    spec = new_spec("nvidia__NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.json")
    pattern = "MEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME"
    kinds = {"M": MAMBA, "E": NO_CACHE, "*": FULL_ATTENTION, "-": NO_CACHE}
    assert spec.layer_types == tuple(kinds[c] for c in pattern) and spec.num_layers == 52
    assert spec.mamba == MambaMixer(version=2, intermediate=4096, state_size=128, conv_kernel=4, n_groups=8, num_heads=64, head_dim=64)
    assert spec.state_dtype == "float32"  # mamba_ssm_cache_dtype
    assert (spec.num_experts, spec.experts_per_token, spec.num_shared_experts) == (128, 6, 1)
    assert spec.ffn_types == tuple("moe" if c == "E" else "none" for c in pattern)  # the mixers carry no FFN
    # non-gated experts: up and down only, 23 MoE blocks
    assert spec.breakdown["experts"] == 23 * 128 * 2 * 2688 * 1856
    assert spec.active_parameters == 3_580_073_408


def test_nemotron_h_pattern_wins_over_num_hidden_layers():
    config = json.loads((EXTRA / "nvidia__Nemotron-H-8B-Base-8K.json").read_text())
    spec = spec_from_config({**config, "num_hidden_layers": 7})  # transformers ignores it too
    assert spec.parameters == 8_100_852_736 and spec.num_layers == 52
    assert spec.layers_of_kind(NO_CACHE) == 24 and spec.layers_of_kind(MAMBA) == 24 and spec.num_experts is None
    with pytest.raises(ConfigError, match="hybrid_override_pattern has unknown blocks"):
        spec_from_config({**config, "hybrid_override_pattern": "M*X"})


def test_jamba_attention_every_eighth_layer_and_mamba1_state():
    spec = new_spec("ai21labs__AI21-Jamba-1.5-Mini.json")
    assert [i for i, kind in enumerate(spec.layer_types) if kind == FULL_ATTENTION] == [4, 12, 20, 28]
    assert spec.layers_of_kind(MAMBA) == 28
    assert spec.mamba == MambaMixer(version=1, intermediate=8192, state_size=16, conv_kernel=4, time_step_rank=256)
    assert spec.active_parameters == 12_110_311_296  # "12B active"
    assert spec.num_dense_layers == 1  # expert_layer_offset 1: layer 0 is dense
    assert spec.ffn_types == ("dense", "moe") * 16  # dense and MoE alternate (a pipeline split must follow this)


def test_mamba2_breakdown_is_the_closed_form():
    spec = new_spec("mistralai__Mamba-Codestral-7B-v0.1.json")
    h, inner, groups, state, heads, layers = 4096, 8192, 8, 128, 128, 64
    conv_dim = inner + 2 * groups * state
    assert dict(spec.breakdown) == {
        "embedding": 32768 * h,
        "lm_head": 32768 * h,
        "ssm_proj": layers * (h * (inner + conv_dim + heads) + inner * h),  # in_proj, out_proj (no bias)
        "ssm_other": layers * (conv_dim * 4 + conv_dim + 3 * heads + inner),  # conv1d + bias, dt_bias/A_log/D, norm
        "norms": (layers + 1) * h,
    }
    assert spec.layer_types == (MAMBA,) * 64 and spec.layers_of_kind(FULL_ATTENTION) == 0
    assert (spec.num_attention_heads, spec.num_kv_heads, spec.head_dim) == (None, None, None)  # no attention at all
    assert spec.mamba == MambaMixer(version=2, intermediate=8192, state_size=128, conv_kernel=4, n_groups=8, num_heads=128, head_dim=64)


def test_mamba1_families_tie_by_default_and_derive_d_inner():
    mamba = spec_from_config(json.loads((EXTRA / "state-spaces__mamba-130m-hf.json").read_text()))
    assert mamba.tie_word_embeddings is True and "lm_head" not in mamba.breakdown
    assert mamba.mamba == MambaMixer(version=1, intermediate=1536, state_size=16, conv_kernel=4, time_step_rank=48)
    # transformers overwrites intermediate_size with expand x hidden_size
    config = json.loads((EXTRA / "state-spaces__mamba-130m-hf.json").read_text())
    assert spec_from_config({**config, "intermediate_size": 999}).parameters == 129_135_360


def test_lfm2_short_conv_layers_and_ff_width():
    spec = spec_from_config(json.loads((EXTRA / "LiquidAI__LFM2-1.2B.json").read_text()))
    assert [i for i, kind in enumerate(spec.layer_types) if kind == FULL_ATTENTION] == [2, 5, 8, 10, 12, 14]
    assert spec.layers_of_kind(SHORT_CONV) == 10 and spec.short_conv == ShortConv(hidden=2048, l_cache=3)
    assert spec.intermediate_size == 8192  # int(2/3 x 12288), rounded up to a multiple of 256
    assert spec.tie_word_embeddings is True  # tie_embedding, LFM2's own key


def test_llama4_rope_layers_are_chunked():
    spec = spec_from_config(json.loads((EXTRA / "meta-llama__Llama-4-Scout-17B-16E-Instruct.json").read_text()))
    assert spec.layer_types == (CHUNKED_ATTENTION, CHUNKED_ATTENTION, CHUNKED_ATTENTION, FULL_ATTENTION) * 12
    assert spec.attention_chunk_size == 8192 and spec.sliding_window is None


def test_deepseek_v32_indexer_and_mtp():
    spec = new_spec("deepseek-ai__DeepSeek-V3.2-Exp.json")
    assert (spec.index_n_heads, spec.index_head_dim, spec.index_topk) == (64, 128, 2048)
    assert (spec.kv_lora_rank, spec.qk_rope_head_dim) == (512, 64) and spec.is_mla
    # the indexer over DeepSeek-V3: wq_b (1536 -> 64x128), wk (7168 -> 128), weights_proj (7168 -> 64), k_norm (w + b)
    v3 = spec_from_config({**json.loads((NEW / "deepseek-ai__DeepSeek-V3.2-Exp.json").read_text()), "model_type": "deepseek_v3"})
    assert spec.parameters - v3.parameters == 61 * (1536 * 64 * 128 + 7168 * 128 + 7168 * 64 + 2 * 128)
    # MTP as the checkpoint ships it: one MoE block, eh_proj, 3 norms, its own embedding and head copies
    assert spec.mtp_layers == 1 and spec.mtp_parameters == 13_477_385_472  # 671.9B + 13.5B: the Hub's "685B"
    assert "transformers does not build" in spec.notes[0]


def test_minimax_m2_mtp_modules_are_noted_without_a_size():
    spec = new_spec("MiniMaxAI__MiniMax-M2.json")
    assert (spec.mtp_layers, spec.mtp_parameters) == (3, 0)
    assert spec.notes[0].startswith("the checkpoint also ships 3 multi-token-prediction layers that transformers does not build")
    assert spec_from_config({**json.loads((NEW / "MiniMaxAI__MiniMax-M2.json").read_text()), "use_mtp": False}).mtp_layers == 0


def test_kimi_k2_is_counted_as_its_architectures_class():
    spec = new_spec("moonshotai__Kimi-K2-Instruct.json")
    assert spec.parameters == _KIMI_K2_AS_DEEPSEEK_V3 and spec.model_type == "kimi_k2"
    assert any("counted as DeepseekV3ForCausalLM" in note for note in spec.notes)


def test_hunyuan_experts_per_layer_list_is_refused_in_one_line():
    config = json.loads((EXTRA / "tencent__Hunyuan-A13B-Instruct.json").read_text())
    with pytest.raises(ConfigError, match="num_experts"):
        spec_from_config({**config, "num_experts": [64] * 32})
    # "A13B": 8 of 64 experts plus the shared MLP, attention, and the tied embedding (128167 x 4096)
    assert spec_from_config(config).active_parameters == 12_747_448_320


def test_spec_rejects_unknown_layer_kinds_and_bad_parts():
    from llmmem.spec import ModelSpec

    with pytest.raises(ValueError, match="unknown layer kinds"):
        ModelSpec(name="x", parameters=1, layer_types=("attention",))
    with pytest.raises(ValueError, match="vision breakdown"):
        ModelSpec(name="x", parameters=10, breakdown={"mlp": 6, "vision": 4}, parts={"vision": {"mlp": 3}})
    with pytest.raises(TypeError):
        ModelSpec(name="x", parameters=7.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must hold ints"):
        ModelSpec(name="x", parameters=7, breakdown={"mlp": 7.0})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="tie_word_embeddings must be a bool"):
        ModelSpec(name="x", parameters=7, tie_word_embeddings=1)  # type: ignore[arg-type]
    spec = ModelSpec(name="x", parameters=10, breakdown={"mlp": 6, "vision": 3, "projector": 1}, parts={"vision": {"mlp": 3}})
    assert spec.part_totals == {"text": 6, "vision": 3, "projector": 1}
    assert ModelSpec(name="x", parameters=10).counted_by == "given"


# ----------------------------------------------------------------------------- (7) hostile values in the new families

_NEWER_CONFIGS = [json.loads((EXTRA / name).read_text()) for name, _, _, source in EXTRA_CASES if source.startswith("built for")] + [
    case["config"] for case in FLAG_VARIANTS.values()
] + [json.loads(path.read_text()) for folder in (CONFIGS, NEW) for path in sorted(folder.glob("*.json"))]
_ODD_VALUES = [None, 0, -1, 1, 3, True, False, "auto", "x", "LLLG", 1.5, 10**12, [], [0, 1], ["conv"], ["mamba"], {}]
_OFTEN_READ = ["layer_types", "hybrid_override_pattern", "full_attn_idxs", "moe_topk", "mlp_layer_types", "no_rope_layers",
               "layers_block_type", "attn_layer_offset", "expand", "mamba_dt_rank", "block_ffn_dim_multiplier"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    base=st.sampled_from(_NEWER_CONFIGS),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(_ODD_VALUES)), min_size=1, max_size=3),
)
def test_odd_values_give_an_exact_int_count_or_one_config_error(base, edits):
    config = json.loads(json.dumps(base))
    for pick, value in edits:
        keys = sorted(config) + _OFTEN_READ
        config[keys[pick % len(keys)]] = value
    try:
        spec = spec_from_config(config, use_transformers=False)
    except ConfigError as error:
        assert "\n" not in str(error)
        return
    assert isinstance(spec.parameters, int) and not isinstance(spec.parameters, bool) and spec.parameters > 0
    assert all(type(count) is int for count in spec.breakdown.values())
    assert spec.active_parameters is None or type(spec.active_parameters) is int
    assert type(spec.tie_word_embeddings) is bool and len(spec.layer_types) == spec.num_layers


def test_glm45_mtp_layer_follows_deepseeks_layout():
    # vLLM glm4_moe_mtp.py: enorm, hnorm, eh_proj, shared_head (norm, head), the block, embed_tokens
    air = spec_from_config(json.loads((EXTRA / "zai-org__GLM-4.5-Air.json").read_text()))
    assert (air.mtp_layers, air.mtp_parameters) == (1, 3_616_573_440)
    assert air.parameters + air.mtp_parameters == 110_468_818_944  # the Hub's "110B" for GLM-4.5-Air
