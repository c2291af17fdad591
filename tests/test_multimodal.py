"""Multimodal checkpoints counted whole: text model + vision tower + projector, to the unit.

Every expected count is what transformers 5.24.0 (torch 2.13.0 CPU) allocates for the class in
`architectures[0]` built on the meta device from the config, tied tensors once:
`python bench/count_vision_encoders.py --tables` rebuilds every row below and prints
transformers' numbers beside these. "vision + projector" is everything outside the text model and its LM
head (model.visual / vision_tower / vision_model plus the projector).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from llmmem.architectures import spec_from_config
from llmmem.errors import ConfigError
from llmmem.multimodal import multimodal_type
from llmmem.spec import PROJECTOR_PART, VISION_PART

ROOT = Path(__file__).resolve().parent
NEW = ROOT / "fixtures" / "configs_new"  # published configs, byte-identical to ../shared/fixtures/configs_new
MORE = ROOT / "fixtures" / "vision_configs"  # see its README for sources
NEW_ROWS = {r["config"]: r for r in csv.DictReader((ROOT / "fixtures" / "param_counts_new.tsv").open(), delimiter="\t")}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


# ----------------------------------------------------------------------------- (1) the published fixtures

# config, vision tower + projector as transformers 5.24 builds them
FIXTURES = [
    ("google__gemma-3-4b-it.json", 416_866_032 + 2_950_272),  # SigLIP without pooling head, Gemma3 projector
    ("meta-llama__Llama-4-Scout-17B-16E-Instruct.json", 850_960_896 + 20_971_520),  # vision_model incl. adapter
    ("Qwen__Qwen2.5-VL-7B-Instruct.json", 676_550_144),  # model.visual, merger included
    ("Qwen__Qwen3-VL-8B-Instruct.json", 576_388_336),  # model.visual, merger + 3 deepstack mergers
    ("Qwen__Qwen3.5-27B.json", 460_730_096),  # model.visual, no deepstack mergers
    ("mistralai__Devstral-Small-2-24B-Instruct-2512.json", 403_305_472 + 35_652_608),  # Pixtral + projector
]


@pytest.mark.parametrize("name,non_text", FIXTURES, ids=[f[0] for f in FIXTURES])
def test_fixture_tower_and_projector_are_exact(name, non_text):
    spec = spec_from_config(load(NEW / name))
    assert spec.breakdown[VISION_PART] + spec.breakdown[PROJECTOR_PART] == non_text
    assert spec.part_totals["text"] == spec.parameters - non_text


@pytest.mark.parametrize("name", [f[0] for f in FIXTURES])
def test_fixture_total_is_the_checkpoint_class(name):
    config = load(NEW / name)
    spec = spec_from_config(config)
    row = NEW_ROWS[name]
    assert spec.parameters == int(row["full_model_params"])
    assert spec.model_type == row["model_type"]
    assert spec.counted_by == "exact"
    assert spec.parameters == sum(spec.breakdown.values())


def test_published_figures_from_the_issue():
    assert spec_from_config(load(NEW / "google__gemma-3-4b-it.json")).parameters == 4_300_079_472
    assert spec_from_config(load(NEW / "meta-llama__Llama-4-Scout-17B-16E-Instruct.json")).parameters == 108_641_793_536
    assert spec_from_config(load(NEW / "Qwen__Qwen2.5-VL-7B-Instruct.json")).parameters == 8_292_166_656
    assert spec_from_config(load(NEW / "Qwen__Qwen3-VL-8B-Instruct.json")).parameters == 8_767_123_696


# ----------------------------------------------------------------------------- (2) configs the fixtures are not

# id, config, transformers 5.24 total, vision + projector, where the config comes from
MORE_CASES = [
    ("Qwen3-VL-30B-A3B", load(MORE / "Qwen__Qwen3-VL-30B-A3B-Instruct.json"), 31_070_754_032, 538_631_408, "vision_configs/README.md"),
    ("GLM-4.5V", load(MORE / "zai-org__GLM-4.5V.json"), 107_710_927_360, 858_681_856, "vision_configs/README.md"),
    ("llava-1.5-7b", load(MORE / "llava-hf__llava-1.5-7b-hf.json"), 7_063_427_072, 324_487_168, "vision_configs/README.md"),
    ("Qwen2-VL-7B", load(MORE / "Qwen__Qwen2-VL-7B-Instruct.json"), 8_291_375_616, 675_759_104, "vision_configs/README.md"),
    ("pixtral-12b", load(MORE / "mistral-community__pixtral-12b.json"), 12_682_739_712, 434_957_312, "vision_configs/README.md"),
    ("paligemma-3b-pt-224", load(MORE / "google__paligemma-3b-pt-224.json"), 2_923_466_480, 414_803_696, "vision_configs/README.md"),
    ("llava-v1.6-mistral-7b", load(MORE / "llava-hf__llava-v1.6-mistral-7b-hf.json"), 7_566_747_648, 324_491_264, "vision_configs/README.md"),
    ("SmolVLM-256M", load(MORE / "HuggingFaceTB__SmolVLM-256M-Instruct.json"), 256_484_928, 93_510_912, "vision_configs/README.md"),
]

def resized(name: str, text: dict, **outer) -> dict:
    """A published fixture with another size's text_config keys (same tower), as the family's other releases."""
    config = load(NEW / name)
    if "text_config" in config:
        config["text_config"] = {**config["text_config"], **text}
    else:
        config.update(text)
    for key, value in outer.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    return config


# Other sizes of the same families: their published config.json shape keys on top of the fixture of the family.
SIZE_CASES = [
    ("gemma-3-27b-it shape", resized("google__gemma-3-4b-it.json", {"hidden_size": 5376, "intermediate_size": 21504,
     "num_hidden_layers": 62, "num_attention_heads": 32, "num_key_value_heads": 16, "head_dim": 128}), 27_432_406_640, 423_060_336),
    ("gemma-3-12b-it shape", resized("google__gemma-3-4b-it.json", {"hidden_size": 3840, "intermediate_size": 15360,
     "num_hidden_layers": 48, "num_attention_heads": 16, "num_key_value_heads": 8}), 12_187_325_040, 421_290_864),
    ("Qwen2.5-VL-72B-Instruct shape", resized("Qwen__Qwen2.5-VL-7B-Instruct.json", {"hidden_size": 8192,
     "intermediate_size": 29568, "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8},
     vision_config={"out_hidden_size": 8192}), 73_406_351_360, 700_147_712),
    ("Qwen2.5-VL-3B-Instruct shape (tied)", resized("Qwen__Qwen2.5-VL-7B-Instruct.json", {"hidden_size": 2048,
     "intermediate_size": 11008, "num_hidden_layers": 36, "num_attention_heads": 16, "num_key_value_heads": 2,
     "tie_word_embeddings": True, "vocab_size": 151936}, vision_config={"out_hidden_size": 2048}), 3_754_622_976, 668_684_288),
    ("Llama-4-Maverick-17B-128E shape", resized("meta-llama__Llama-4-Scout-17B-16E-Instruct.json", {
     "num_local_experts": 128, "interleave_moe_layer_step": 2, "attention_chunk_size": 8192}), 401_583_781_376, 871_932_416),
    ("Qwen3-VL-4B-Instruct shape (tied)", resized("Qwen__Qwen3-VL-8B-Instruct.json", {"hidden_size": 2560,
     "intermediate_size": 9728, "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8},
     tie_word_embeddings=True, vision_config={"depth": 24, "hidden_size": 1024, "intermediate_size": 4096,
     "out_hidden_size": 2560, "deepstack_visual_indexes": [5, 11, 17]}), 4_437_815_808, 415_347_712),
]  # fmt: skip

_TEXT_SMALL = {"hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
               "head_dim": 64, "intermediate_size": 512, "vocab_size": 1000}  # fmt: skip

# Small configs with each family's optional parts on and off (sizes picked to differ from the defaults).
VARIANT_CASES = [
    (
        "gemma3: SigLIP with its pooling head (vision_use_head absent), tied by Gemma3Config's default",
        {"model_type": "gemma3", "architectures": ["Gemma3ForConditionalGeneration"], "mm_tokens_per_image": 16,
         "text_config": {"model_type": "gemma3_text", **_TEXT_SMALL},
         "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 128, "intermediate_size": 320,
                           "num_hidden_layers": 3, "num_attention_heads": 4, "image_size": 64, "patch_size": 8}},
        2_099_840, 661_632,
    ),
    (
        "gemma3: untied at the top, no head, 3-channel 112px",
        {"model_type": "gemma3", "architectures": ["Gemma3ForConditionalGeneration"], "tie_word_embeddings": False,
         "mm_tokens_per_image": 16,
         "text_config": {"model_type": "gemma3_text", **_TEXT_SMALL},
         "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 96, "intermediate_size": 200,
                           "num_hidden_layers": 2, "num_attention_heads": 4, "image_size": 112, "patch_size": 14,
                           "vision_use_head": False}},
        1_934_416, 240_208,
    ),
    (
        "gemma3: text_config says untied, the outer default (True) wins",
        {"model_type": "gemma3", "architectures": ["Gemma3ForConditionalGeneration"], "mm_tokens_per_image": 16,
         "text_config": {"model_type": "gemma3_text", **_TEXT_SMALL, "tie_word_embeddings": False},
         "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 96, "intermediate_size": 200,
                           "num_hidden_layers": 2, "num_attention_heads": 4, "image_size": 112, "patch_size": 14,
                           "vision_use_head": False}},
        1_678_416, 240_208,
    ),
    (
        "llama4: text tied in text_config, other projector widths",
        {"model_type": "llama4", "architectures": ["Llama4ForConditionalGeneration"],
         "text_config": {"model_type": "llama4_text", **_TEXT_SMALL, "intermediate_size_mlp": 384,
                         "num_local_experts": 4, "num_experts_per_tok": 1, "interleave_moe_layer_step": 2,
                         "tie_word_embeddings": True},
         "vision_config": {"model_type": "llama4_vision_model", "hidden_size": 128, "intermediate_size": 256,
                           "num_hidden_layers": 2, "num_attention_heads": 4, "image_size": 56, "patch_size": 14,
                           "projector_input_dim": 192, "projector_output_dim": 160, "vision_output_dim": 160}},
        3_371_264, 458_752,
    ),
    (
        "qwen2_5_vl: pre-v5 flat config, tied at the top",
        {"model_type": "qwen2_5_vl", "architectures": ["Qwen2_5_VLForConditionalGeneration"], **_TEXT_SMALL,
         "tie_word_embeddings": True,
         "vision_config": {"depth": 2, "hidden_size": 128, "intermediate_size": 200, "num_heads": 4,
                           "out_hidden_size": 256, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2}},
        2_269_856, 831_904,
    ),
    (
        "qwen2_5_vl: v5 nested config, tie forwarded from text_config, merge size 1",
        {"model_type": "qwen2_5_vl", "architectures": ["Qwen2_5_VLForConditionalGeneration"],
         "text_config": {"model_type": "qwen2_5_vl_text", **_TEXT_SMALL, "tie_word_embeddings": True},
         "vision_config": {"depth": 3, "hidden_size": 64, "intermediate_size": 100, "num_heads": 4,
                           "out_hidden_size": 256, "patch_size": 16, "spatial_merge_size": 1, "temporal_patch_size": 1}},
        1_616_664, 178_712,
    ),
    (
        "qwen3_vl: no deepstack mergers, tied",
        {"model_type": "qwen3_vl", "architectures": ["Qwen3VLForConditionalGeneration"], "tie_word_embeddings": True,
         "text_config": {"model_type": "qwen3_vl_text", **_TEXT_SMALL},
         "vision_config": {"depth": 2, "hidden_size": 64, "intermediate_size": 128, "num_heads": 4,
                           "out_hidden_size": 256, "patch_size": 16, "num_position_embeddings": 64,
                           "deepstack_visual_indexes": []}},
        1_738_304, 301_120,
    ),
    (
        "qwen3_vl: two deepstack mergers, merge size 3",
        {"model_type": "qwen3_vl", "architectures": ["Qwen3VLForConditionalGeneration"],
         "text_config": {"model_type": "qwen3_vl_text", **_TEXT_SMALL},
         "vision_config": {"depth": 4, "hidden_size": 64, "intermediate_size": 96, "num_heads": 4,
                           "out_hidden_size": 256, "patch_size": 8, "num_position_embeddings": 100,
                           "spatial_merge_size": 3, "deepstack_visual_indexes": [1, 3]}},
        3_284_224, 1_591_040,
    ),
    (
        "qwen3_vl_moe: a dense mlp_only layer and decoder_sparse_step 2",
        {"model_type": "qwen3_vl_moe", "architectures": ["Qwen3VLMoeForConditionalGeneration"],
         "text_config": {"model_type": "qwen3_vl_moe_text", **_TEXT_SMALL, "num_hidden_layers": 4,
                         "moe_intermediate_size": 64, "num_experts": 8, "num_experts_per_tok": 2,
                         "decoder_sparse_step": 2, "mlp_only_layers": [1]},
         "vision_config": {"depth": 2, "hidden_size": 64, "intermediate_size": 128, "num_heads": 4,
                           "out_hidden_size": 256, "patch_size": 16, "num_position_embeddings": 64,
                           "deepstack_visual_indexes": [0]}},
        3_309_376, 433_216,
    ),
    (
        "qwen3_5: vision tower only checked here (the text is a gated-delta-net hybrid)",
        {"model_type": "qwen3_5", "architectures": ["Qwen3_5ForConditionalGeneration"],
         "text_config": {"model_type": "qwen3_5_text", **_TEXT_SMALL, "num_hidden_layers": 4,
                         "layer_types": ["linear_attention", "linear_attention", "linear_attention", "full_attention"],
                         "linear_num_key_heads": 2, "linear_num_value_heads": 4, "linear_key_head_dim": 32,
                         "linear_value_head_dim": 32, "linear_conv_kernel_dim": 4},
         "vision_config": {"depth": 2, "hidden_size": 96, "intermediate_size": 128, "num_heads": 4,
                           "out_hidden_size": 256, "patch_size": 16, "num_position_embeddings": 36,
                           "deepstack_visual_indexes": [0, 1]}},
        3_274_456, 522_464,
    ),
    (
        "mistral3: projector biases, two feature layers, merge size 1, mistral text",
        {"model_type": "mistral3", "architectures": ["Mistral3ForConditionalGeneration"], "tie_word_embeddings": False,
         "multimodal_projector_bias": True, "vision_feature_layer": [-1, -2], "spatial_merge_size": 1,
         "text_config": {"model_type": "mistral", **_TEXT_SMALL, "sliding_window": None},
         "vision_config": {"model_type": "pixtral", "hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 2,
                           "num_attention_heads": 4, "head_dim": 16, "patch_size": 14, "image_size": 224}},
        1_928_064, 235_136,
    ),
    (
        "mistral3: Mistral3Config ties by default",
        {"model_type": "mistral3", "architectures": ["Mistral3ForConditionalGeneration"],
         "text_config": {"model_type": "mistral", **_TEXT_SMALL, "sliding_window": None},
         "vision_config": {"model_type": "pixtral", "hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 3,
                           "num_attention_heads": 4, "head_dim": 16, "patch_size": 16}},
        1_726_208, 289_280,
    ),
    (
        "llava: SigLIP tower with head, two feature layers, no projector bias, tie forwarded from text_config",
        {"model_type": "llava", "architectures": ["LlavaForConditionalGeneration"], "multimodal_projector_bias": False,
         "vision_feature_layer": [-2, -5],
         "text_config": {"model_type": "llama", **_TEXT_SMALL, "tie_word_embeddings": True},
         "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 64, "intermediate_size": 96,
                           "num_hidden_layers": 5, "num_attention_heads": 4, "image_size": 48, "patch_size": 8}},
        1_726_016, 289_088,
    ),
    (
        "llava: CLIP tower, mistral text",
        {"model_type": "llava", "architectures": ["LlavaForConditionalGeneration"],
         "text_config": {"model_type": "mistral", **_TEXT_SMALL, "sliding_window": None},
         "vision_config": {"model_type": "clip_vision_model", "hidden_size": 64, "intermediate_size": 128,
                           "num_hidden_layers": 3, "num_attention_heads": 4, "image_size": 56, "patch_size": 14}},
        1_914_816, 221_888,
    ),
    (
        "llava_next: SigLIP tower with head, image_newline, text tie not forwarded",
        {"model_type": "llava_next", "architectures": ["LlavaNextForConditionalGeneration"],
         "text_config": {"model_type": "llama", **_TEXT_SMALL, "tie_word_embeddings": True},
         "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 64, "intermediate_size": 96,
                           "num_hidden_layers": 2, "num_attention_heads": 4, "image_size": 48, "patch_size": 8}},
        1_878_368, 185_440,
    ),
    (
        "paligemma: gemma2 text, untied, projection_dim over the vision config's",
        {"model_type": "paligemma", "architectures": ["PaliGemmaForConditionalGeneration"], "tie_word_embeddings": False,
         "projection_dim": 256,
         "text_config": {"model_type": "gemma2", **_TEXT_SMALL},
         "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 64, "intermediate_size": 96,
                           "num_hidden_layers": 2, "num_attention_heads": 4, "image_size": 56, "patch_size": 14,
                           "projection_dim": 999, "vision_use_head": False}},
        1_808_128, 114_176,
    ),
    (
        "smolvlm: tied, scale factor 2, tower defaults for what is left out",
        {"model_type": "smolvlm", "architectures": ["SmolVLMForConditionalGeneration"], "tie_word_embeddings": True,
         "text_config": {"model_type": "llama", **_TEXT_SMALL},
         "vision_config": {"hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
                           "image_size": 64}},
        1_758_208, 321_280,
    ),
    (
        "qwen2_vl: v5 nested config, tied, mlp_ratio 2, merge size 1",
        {"model_type": "qwen2_vl", "architectures": ["Qwen2VLForConditionalGeneration"], "tie_word_embeddings": True,
         "text_config": {"model_type": "qwen2_vl_text", **_TEXT_SMALL},
         "vision_config": {"depth": 2, "embed_dim": 64, "mlp_ratio": 2, "num_heads": 4, "hidden_size": 256,
                           "patch_size": 14, "spatial_merge_size": 1, "temporal_patch_size": 2}},
        1_601_088, 163_136,
    ),
    (
        "lfm2_vl: SigLIP2 without head, projector without LayerNorm (text: LFM2 hybrid)",
        {"model_type": "lfm2_vl", "architectures": ["Lfm2VlForConditionalGeneration"], "projector_hidden_size": 192,
         "projector_use_layernorm": False, "downsample_factor": 2,
         "text_config": {"model_type": "lfm2", "hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
                         "num_key_value_heads": 2, "intermediate_size": 512, "vocab_size": 1000,
                         "layer_types": ["conv", "full_attention", "conv", "full_attention"]},
         "vision_config": {"model_type": "siglip2_vision_model", "hidden_size": 64, "intermediate_size": 128,
                           "num_hidden_layers": 2, "num_attention_heads": 4, "patch_size": 16, "num_patches": 64,
                           "vision_use_head": False}},
        2_969_600, 219_136,
    ),
    (
        "lfm2_vl: SigLIP2 with head, projector LayerNorm and no biases",
        {"model_type": "lfm2_vl", "architectures": ["Lfm2VlForConditionalGeneration"], "projector_hidden_size": 96,
         "projector_bias": False, "downsample_factor": 3,
         "text_config": {"model_type": "lfm2", "hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
                         "num_key_value_heads": 2, "intermediate_size": 512, "vocab_size": 1000,
                         "layer_types": ["conv", "full_attention", "conv", "full_attention"]},
         "vision_config": {"model_type": "siglip2_vision_model", "hidden_size": 48, "intermediate_size": 64,
                           "num_hidden_layers": 1, "num_attention_heads": 4, "patch_size": 8, "num_patches": 16}},
        2_859_168, 108_704,
    ),
    (
        "glm4v_moe: qkv bias in the tower, small MoE text",
        {"model_type": "glm4v_moe", "architectures": ["Glm4vMoeForConditionalGeneration"],
         "text_config": {"model_type": "glm4v_moe_text", **_TEXT_SMALL, "num_hidden_layers": 3,
                         "moe_intermediate_size": 64, "n_routed_experts": 8, "n_shared_experts": 1,
                         "num_experts_per_tok": 2, "first_k_dense_replace": 1},
         "vision_config": {"depth": 2, "hidden_size": 64, "intermediate_size": 160, "num_heads": 4,
                           "out_hidden_size": 256, "patch_size": 14, "image_size": 112, "attention_bias": True}},
        2_853_184, 465_984,
    ),
]  # fmt: skip

ALL_CASES = [(c[0], c[1], c[2], c[3]) for c in MORE_CASES] + SIZE_CASES + VARIANT_CASES


@pytest.mark.parametrize("what,config,total,non_text", ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_tower_and_projector_are_exact(what, config, total, non_text):
    spec = spec_from_config(config)
    assert spec.breakdown[VISION_PART] + spec.breakdown[PROJECTOR_PART] == non_text
    assert sum(spec.parts[VISION_PART].values()) == spec.breakdown[VISION_PART]
    assert sum(spec.parts[PROJECTOR_PART].values()) == spec.breakdown[PROJECTOR_PART]


@pytest.mark.parametrize("what,config,total,non_text", ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_whole_model_is_exact(what, config, total, non_text):
    spec = spec_from_config(config)
    assert spec.parameters == total
    assert spec.model_type == multimodal_type(config)


# ----------------------------------------------------------------------------- (3) what the spec says


def test_spec_keeps_the_text_models_shape_and_notes_the_tower():
    spec = spec_from_config(load(NEW / "google__gemma-3-4b-it.json"))
    assert spec.model_type == "gemma3" and spec.name == "gemma3"
    assert (spec.num_layers, spec.hidden_size, spec.vocab_size, spec.head_dim) == (34, 2560, 262208, 256)
    assert spec.part_totals == {"text": 3_880_263_168, "vision": 416_866_032, "projector": 2_950_272}
    assert spec.parts["vision"]["position_embedding"] == 4096 * 1152  # (896 / 14)^2 patches
    assert "head" not in spec.parts["vision"]  # vision_use_head: false
    assert any("vLLM profiles start-up with a dummy image" in note for note in spec.notes)


def test_moe_active_parameters_stay_the_text_models():
    scout = spec_from_config(load(NEW / "meta-llama__Llama-4-Scout-17B-16E-Instruct.json"))
    assert scout.active_parameters == 17_172_894_720  # "17B active": a text token does not pass the tower
    assert scout.parts["vision"]["adapter"] == 5632 * 4096 + 4096 * 4096  # pixel-shuffle MLP


def test_quantization_config_reaches_the_spec():
    spec = spec_from_config(load(NEW / "mistralai__Devstral-Small-2-24B-Instruct-2512.json"))
    assert spec.quantization["quant_method"] == "fp8"
    assert "model.vision_tower" in spec.quantization["modules_to_not_convert"]
    assert spec.torch_dtype == "bfloat16"


def test_text_only_class_counts_the_text_model():
    config = {**load(NEW / "google__gemma-3-4b-it.json"), "architectures": ["Gemma3ForCausalLM"]}
    spec = spec_from_config(config)
    assert spec.parameters == 3_880_263_168 and "vision" not in spec.breakdown
    assert any("builds the text model only" in note for note in spec.notes)


def test_unknown_vision_tower_is_refused_in_one_line():
    config = {**load(NEW / "google__gemma-3-4b-it.json"), "vision_config": {"model_type": "dinov2"}}
    with pytest.raises(ConfigError, match="vision tower 'dinov2'.*parameter count"):
        spec_from_config(config)


def test_bad_vision_values_are_refused_in_one_line():
    config = load(NEW / "Qwen__Qwen3-VL-8B-Instruct.json")
    config["vision_config"]["depth"] = "27"
    with pytest.raises(ConfigError, match=r"vision_config.depth='27', not a positive integer"):
        spec_from_config(config)
    config["vision_config"] = ["not", "an", "object"]
    with pytest.raises(ConfigError, match=r"vision_config.*object"):  # config_check answers first
        spec_from_config(config)


@pytest.mark.parametrize(
    "name,where,change,message",
    [
        ("Qwen__Qwen3-VL-8B-Instruct.json", "vision_config", {"deepstack_visual_indexes": 3}, "deepstack_visual_indexes=3, not a list"),
        ("mistralai__Devstral-Small-2-24B-Instruct-2512.json", None, {"vision_feature_layer": "last"}, "vision_feature_layer='last'"),
        ("google__gemma-3-4b-it.json", "vision_config", {"image_size": [896]}, r"image_size=\[896\], not a positive size"),
        ("google__gemma-3-4b-it.json", "vision_config", {"patch_size": -14}, "patch_size=-14, not a positive size"),
    ],
)
def test_hostile_vision_values_are_refused_in_one_line(name, where, change, message):
    config = load(NEW / name)
    target = config[where] if where else config
    target.update(change)
    with pytest.raises(ConfigError, match=message):
        spec_from_config(config)


@pytest.mark.parametrize("ratio", ["4", [4], float("nan"), 0, True])
def test_qwen2_vl_mlp_ratio_is_checked(ratio):
    config = load(MORE / "Qwen__Qwen2-VL-7B-Instruct.json")
    config["vision_config"]["mlp_ratio"] = ratio
    with pytest.raises(ConfigError, match="mlp_ratio"):
        spec_from_config(config)
