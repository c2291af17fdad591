"""Encoders (BERT, RoBERTa, ViT) and T5, counted as transformers builds the class in architectures[0].

Every expected count is what transformers 5.24.0 (torch 2.13.0 CPU) allocates for that class built on the
meta device from the config (tied tensors once): `python
bench/count_vision_encoders.py --tables` rebuilds every row and prints transformers' number beside it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from llmmem.architectures import spec_from_config
from llmmem.errors import ConfigError
from llmmem.spec import FULL_ATTENTION, NO_CACHE

ROOT = Path(__file__).resolve().parent
NEW = ROOT / "fixtures" / "configs_new"  # published configs, byte-identical to ../shared/fixtures/configs_new
NEW_ROWS = {r["config"]: r for r in csv.DictReader((ROOT / "fixtures" / "param_counts_new.tsv").open(), delimiter="\t")}

FIXTURES = [
    "google-bert__bert-base-multilingual-cased.json",  # BertForMaskedLM
    "sentence-transformers__all-roberta-large-v1.json",  # RobertaForMaskedLM
    "google-t5__t5-small.json",  # T5ForConditionalGeneration
    "google__vit-base-patch16-224-in21k.json",  # ViTModel
]


def load(name: str) -> dict:
    return json.loads((NEW / name).read_text())


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_count_is_exact(name):
    row = NEW_ROWS[name]
    spec = spec_from_config(load(name))
    assert spec.parameters == int(row["full_model_params"])
    assert spec.model_type == row["model_type"]
    assert spec.counted_by == "exact" and spec.approximate is False
    assert sum(spec.breakdown.values()) == spec.parameters
    assert f"{row['architecture_class']} counted (architectures[0])" in spec.notes


def test_figures_from_the_issue():
    assert spec_from_config(load("google-bert__bert-base-multilingual-cased.json")).parameters == 177_974_523
    assert spec_from_config(load("sentence-transformers__all-roberta-large-v1.json")).parameters == 355_412_057
    assert spec_from_config(load("google-t5__t5-small.json")).parameters == 60_506_624
    assert spec_from_config(load("google__vit-base-patch16-224-in21k.json")).parameters == 86_389_248


def with_class(name: str, class_name: str, **changes) -> dict:
    return {**load(name), "architectures": [class_name], **changes}


_BERT = {"model_type": "bert", "hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
         "intermediate_size": 256, "vocab_size": 1000, "max_position_embeddings": 64}  # fmt: skip
_ROBERTA = {**_BERT, "model_type": "roberta", "max_position_embeddings": 66, "type_vocab_size": 1}
# google/flan-t5-small's shape keys (published config.json): gated-GELU feed-forward, untied head on disk
_FLAN_T5_SMALL = {"model_type": "t5", "d_ff": 1024, "d_kv": 64, "d_model": 512, "num_decoder_layers": 8, "num_heads": 6,
                  "num_layers": 8, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False,
                  "relative_attention_num_buckets": 32, "vocab_size": 32128}  # fmt: skip
_T5 = {"model_type": "t5", "d_model": 64, "d_kv": 16, "d_ff": 128, "num_layers": 2, "num_heads": 4, "vocab_size": 1000}
_IMAGENET = {str(i): f"class {i}" for i in range(1000)}

# what, config, transformers 5.24 count
VARIANT_CASES = [
    # the same published backbones under other head classes
    ("BertModel (pooler, no MLM head)", with_class("google-bert__bert-base-multilingual-cased.json", "BertModel"), 177_853_440),
    ("BertLMHeadModel", with_class("google-bert__bert-base-multilingual-cased.json", "BertLMHeadModel", is_decoder=True), 177_974_523),
    ("RobertaModel", with_class("sentence-transformers__all-roberta-large-v1.json", "RobertaModel"), 355_359_744),
    ("T5Model (no LM head)", with_class("google-t5__t5-small.json", "T5Model"), 60_506_624),
    ("T5EncoderModel", with_class("google-t5__t5-small.json", "T5EncoderModel"), 35_330_816),
    ("ViTForImageClassification, 1000 labels (vit-base-patch16-224's head)",
     with_class("google__vit-base-patch16-224-in21k.json", "ViTForImageClassification", id2label=_IMAGENET), 86_567_656),
    ("ViTForMaskedImageModeling", with_class("google__vit-base-patch16-224-in21k.json", "ViTForMaskedImageModeling"), 86_390_016),
    # small configs with the optional parts on and off
    ("BertModel without architectures", dict(_BERT), 418_176),
    ("BertForSequenceClassification, 3 labels", {**_BERT, "architectures": ["BertForSequenceClassification"],
                                                 "id2label": {"0": "a", "1": "b", "2": "c"}}, 418_563),
    ("BertForTokenClassification, num_labels 5", {**_BERT, "architectures": ["BertForTokenClassification"], "num_labels": 5}, 402_309),
    ("BertForQuestionAnswering", {**_BERT, "architectures": ["BertForQuestionAnswering"]}, 401_922),
    ("BertForMultipleChoice", {**_BERT, "architectures": ["BertForMultipleChoice"]}, 418_305),
    ("BertForNextSentencePrediction", {**_BERT, "architectures": ["BertForNextSentencePrediction"]}, 418_434),
    ("BertForPreTraining, type_vocab_size 4", {**_BERT, "architectures": ["BertForPreTraining"], "type_vocab_size": 4}, 436_458),
    ("BertForMaskedLM untied", {**_BERT, "architectures": ["BertForMaskedLM"], "tie_word_embeddings": False}, 548_432),
    ("BertLMHeadModel decoder with cross-attention", {**_BERT, "architectures": ["BertLMHeadModel"], "is_decoder": True,
                                                      "add_cross_attention": True}, 552_040),
    ("RobertaForSequenceClassification (dense head, no pooler)", {**_ROBERTA, "architectures": ["RobertaForSequenceClassification"]}, 418_562),
    ("RobertaForCausalLM", {**_ROBERTA, "architectures": ["RobertaForCausalLM"], "is_decoder": True}, 419_560),
    ("RobertaForTokenClassification, 7 labels", {**_ROBERTA, "architectures": ["RobertaForTokenClassification"], "num_labels": 7}, 402_695),
    ("RobertaForMultipleChoice", {**_ROBERTA, "architectures": ["RobertaForMultipleChoice"]}, 418_433),
    ("flan-t5-small: gated GELU, tie_word_embeddings false (built tied)",
     {**_FLAN_T5_SMALL, "architectures": ["T5ForConditionalGeneration"]}, 60_511_616),
    ("T5: an explicit is_gated_act false wins over a gated feed_forward_proj",
     {**_T5, "feed_forward_proj": "gated-gelu", "is_gated_act": False}, 228_864),
    ("T5: an explicit is_gated_act true wins over relu", {**_T5, "feed_forward_proj": "relu", "is_gated_act": True}, 261_632),
    ("T5 with fewer decoder layers", {**_T5, "architectures": ["T5ForConditionalGeneration"], "num_decoder_layers": 1}, 179_520),
    ("T5ForSequenceClassification, 3 labels", {**_T5, "architectures": ["T5ForSequenceClassification"], "num_labels": 3}, 233_219),
    ("T5ForQuestionAnswering", {**_T5, "architectures": ["T5ForQuestionAnswering"]}, 228_994),
    ("T5ForTokenClassification", {**_T5, "architectures": ["T5ForTokenClassification"], "num_labels": 4}, 130_244),
    ("ViTModel 384px / patch 32, no qkv bias, pooler 512 wide",
     {"model_type": "vit", "architectures": ["ViTModel"], "hidden_size": 192, "num_hidden_layers": 2, "num_attention_heads": 3,
      "intermediate_size": 384, "image_size": 384, "patch_size": 32, "qkv_bias": False, "pooler_output_size": 512}, 1_310_144),
    ("ViTForImageClassification, one channel, 10 labels",
     {"model_type": "vit", "architectures": ["ViTForImageClassification"], "hidden_size": 96, "num_hidden_layers": 1,
      "num_attention_heads": 4, "intermediate_size": 128, "image_size": 32, "patch_size": 4, "num_channels": 1,
      "num_labels": 10}, 71_562),
]  # fmt: skip

# Other sizes of the same families: their published config.json shape keys (same layout as the fixtures).
_BERT_BASE_UNCASED = {**load("google-bert__bert-base-multilingual-cased.json"), "vocab_size": 30522}
_T5_BASE = {**load("google-t5__t5-small.json"), "d_model": 768, "d_ff": 3072, "num_heads": 12, "num_layers": 12,
            "num_decoder_layers": 12}  # fmt: skip
SIZE_CASES = [
    ("bert-base-uncased shape, BertForMaskedLM", _BERT_BASE_UNCASED, 109_514_298),
    ("bert-large-uncased shape, BertForMaskedLM", {**_BERT_BASE_UNCASED, "hidden_size": 1024, "num_hidden_layers": 24,
                                                   "num_attention_heads": 16, "intermediate_size": 4096}, 335_174_458),
    ("roberta-base shape, RobertaForMaskedLM", {**load("sentence-transformers__all-roberta-large-v1.json"),
                                               "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                                               "intermediate_size": 3072}, 124_697_433),
    ("t5-base shape", _T5_BASE, 222_903_552),
    ("t5-large shape", {**_T5_BASE, "d_model": 1024, "d_ff": 4096, "num_heads": 16, "num_layers": 24,
                        "num_decoder_layers": 24}, 737_668_096),
    ("flan-t5-xl shape (gated, untied on disk)", {**_T5_BASE, "d_model": 2048, "d_ff": 5120, "d_kv": 64, "num_heads": 32,
                                                  "num_layers": 24, "num_decoder_layers": 24,
                                                  "feed_forward_proj": "gated-gelu", "is_gated_act": True,
                                                  "dense_act_fn": "gelu_new", "tie_word_embeddings": False}, 2_783_959_040),
    ("vit-large-patch16-224 shape, ViTForImageClassification",
     with_class("google__vit-base-patch16-224-in21k.json", "ViTForImageClassification", hidden_size=1024,
                num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096, id2label=_IMAGENET), 304_326_632),
]  # fmt: skip
VARIANT_CASES = SIZE_CASES + VARIANT_CASES

ALL_CASES = [(name, load(name), int(NEW_ROWS[name]["full_model_params"])) for name in FIXTURES] + VARIANT_CASES


@pytest.mark.parametrize("what,config,expected", VARIANT_CASES, ids=[c[0] for c in VARIANT_CASES])
def test_head_class_and_variant_count_is_exact(what, config, expected):
    spec = spec_from_config(config)
    assert spec.parameters == expected
    assert sum(spec.breakdown.values()) == spec.parameters


def test_encoders_keep_no_kv_cache():
    bert = spec_from_config(load("google-bert__bert-base-multilingual-cased.json"))
    assert bert.layer_types == (NO_CACHE,) * 12 and bert.layers_of_kind(FULL_ATTENTION) == 0
    assert any("no KV cache" in note for note in bert.notes)
    vit = spec_from_config(load("google__vit-base-patch16-224-in21k.json"))
    assert vit.layer_types == (NO_CACHE,) * 12 and vit.vocab_size is None


def test_t5_cache_is_the_decoders():
    spec = spec_from_config({**_T5, "num_decoder_layers": 3})
    assert spec.layer_types == (FULL_ATTENTION,) * 3  # the decoder caches; the encoder does not
    assert (spec.num_attention_heads, spec.num_kv_heads, spec.head_dim) == (4, 4, 16)
    encoder_only = spec_from_config({**_T5, "architectures": ["T5EncoderModel"]})
    assert encoder_only.layer_types == (NO_CACHE,) * 2


def test_flan_t5_head_is_counted_tied_and_the_note_says_why():
    spec = spec_from_config({**_FLAN_T5_SMALL, "architectures": ["T5ForConditionalGeneration"]})
    assert spec.tie_word_embeddings is True and "lm_head" not in spec.breakdown
    assert any("ships a separate lm_head (16,449,536 more parameters on disk)" in note for note in spec.notes)


def test_unknown_head_class_is_refused_with_the_known_ones():
    with pytest.raises(ConfigError, match="BertForFoo.*BertForMaskedLM"):
        spec_from_config({**_BERT, "architectures": ["BertForFoo"]})


@pytest.mark.parametrize(
    "change,message",
    [
        ({"patch_size": 0}, "patch_size=0, not a positive size"),
        ({"image_size": [224]}, r"image_size=\[224\], not a positive size"),
        ({"hidden_size": "768"}, "hidden_size='768', expected an integer"),  # config_check answers first
        ({"num_hidden_layers": None}, "has no num_hidden_layers"),
    ],
)
def test_bad_values_are_refused_in_one_line(change, message):
    with pytest.raises(ConfigError, match=message):
        spec_from_config({**load("google__vit-base-patch16-224-in21k.json"), **change})


@pytest.mark.parametrize("layers,message", [(10**12, "num_decoder_layers=1,000,000,000,000, more than"), ("6", "num_decoder_layers='6'")])
def test_t5_decoder_layers_are_checked(layers, message):
    with pytest.raises(ConfigError, match=message):
        spec_from_config({**_T5, "num_decoder_layers": layers})


def test_largest_layer_is_the_embedding_or_one_block():
    t5 = spec_from_config(load("google-t5__t5-small.json"))
    assert t5.largest_layer_parameters == 32128 * 512  # the shared embedding beats a decoder block
    block = spec_from_config({**_T5, "vocab_size": 10})  # a decoder block: 2 attentions + feed-forward
    assert block.largest_layer_parameters == 2 * 4 * 64 * (4 * 16) + 2 * 64 * 128
    vit = spec_from_config(load("google__vit-base-patch16-224-in21k.json"))
    assert vit.largest_layer_parameters == 4 * (768 * 768 + 768) + 768 * 3072 * 2 + 3072 + 768


@pytest.mark.parametrize("engine", ["generic", "vllm"])
def test_an_encoder_serves_as_many_sequences_as_the_scheduler_runs(engine):
    from llmmem import catalog
    from llmmem.engines import ENGINES
    from llmmem.gpus import get_gpu
    from llmmem.planner import plan
    from llmmem.serving import ServingOptions

    bert = spec_from_config(catalog.load_config(catalog.find("google-bert/bert-base-multilingual-cased")))
    # the scheduler's cap: the generic engine's 1,024; vLLM's default max_num_seqs, 1,024 on an H100, 256 on an A100
    for gpu, cap in (("H100-80GB", 1024), ("A100-80GB", 1024 if engine == "generic" else 256)):
        serving = ENGINES[engine](bert, ServingOptions(gpu=get_gpu(gpu), engine=engine, context=512))
        assert serving.max_concurrency == cap
        assert f"concurrency is the scheduler's cap, max_num_seqs {cap:,}" in serving.notes[-1]
        assert plan(bert, gpus=[get_gpu(gpu)], engine=engine, context=512).plans[0].max_concurrency == cap
