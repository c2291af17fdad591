"""The optional transformers path for families llmmem has no row for, and the generic fallback.

Runs without torch: the child process's answer is parsed by a pure function, and the parent's calls to
it are replaced where torch would be needed. The live test builds real models when torch and
transformers are importable (counts: transformers 5.24.0 on the meta device, tests/fixtures/param_counts_new.tsv).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmmem import count_with_transformers as ct
from llmmem.architectures import spec_from_config
from llmmem.errors import ConfigError
from llmmem.spec import COUNTED_BY_TRANSFORMERS, COUNTED_GENERIC

# A llama-like config of a family llmmem has no row for (IBM Granite 3.x shapes): nothing hidden.
GRANITE = {
    "model_type": "granite", "architectures": ["GraniteForCausalLM"], "hidden_size": 2048, "num_hidden_layers": 40,
    "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 8192, "vocab_size": 49155,
    "tie_word_embeddings": True,
}  # fmt: skip
GRANITE_COUNT = 2_533_531_648  # transformers 5.24.0, GraniteForCausalLM on the meta device (= the llama formula)
# An MoE of a family llmmem has no row for: the generic formula cannot see its experts.
HIDDEN_MOE = {**GRANITE, "model_type": "granitemoe", "num_local_experts": 40, "num_experts_per_tok": 8}


def fake_count(parameters: int, groups: dict[str, int]):
    def count(config, *, timeout=ct.TIME_LIMIT_S):
        return ct.TransformersCount(parameters, "FakeForCausalLM", "5.24.0", groups)

    return count


# ----------------------------------------------------------------------------- labels and paths


def test_transformers_count_is_labelled_as_such(monkeypatch):
    monkeypatch.setattr(ct, "available", lambda: True)
    monkeypatch.setattr(ct, "count", fake_count(1_000, {"embedding": 600, "mlp": 400}))
    spec = spec_from_config(HIDDEN_MOE)
    assert spec.parameters == 1_000 and dict(spec.breakdown) == {"embedding": 600, "mlp": 400}
    assert spec.counted_by == COUNTED_BY_TRANSFORMERS and spec.approximate is False
    assert spec.count_label.startswith("counted by transformers")
    assert spec.notes == (
        "counted by transformers 5.24.0: FakeForCausalLM built on the meta device from the config (no weights,"
        " no remote code); the breakdown groups its parameters by name",
    )
    assert (spec.num_layers, spec.hidden_size, spec.num_kv_heads, spec.vocab_size) == (40, 2048, 8, 49155)


def test_without_the_extra_a_plain_decoder_is_approximate_and_says_how_to_count_it(monkeypatch):
    monkeypatch.setattr(ct, "available", lambda: False)
    spec = spec_from_config(GRANITE)
    assert spec.parameters == GRANITE_COUNT  # granite is llama-shaped: the formula happens to be exact here
    assert spec.approximate is True and spec.counted_by == COUNTED_GENERIC
    assert spec.count_label.startswith("approximate")
    assert spec.model_type == "granite"
    assert "pip install 'llmmem[transformers]'" in spec.notes[0]


@pytest.mark.parametrize(
    "config, shows",
    [
        (HIDDEN_MOE, "experts (num_local_experts, num_experts_per_tok)"),
        ({**GRANITE, "model_type": "zamba2", "mamba_d_state": 64, "layers_block_type": ["mamba", "hybrid"]},
         "per-layer kinds (layers_block_type); SSM / linear-attention fields (mamba_d_state)"),
        ({**GRANITE, "model_type": "newmla", "kv_lora_rank": 512}, "latent attention (MLA) (kv_lora_rank)"),
        ({**GRANITE, "model_type": "newhybrid", "layer_types": ["linear_attention", "full_attention"] * 20},
         "per-layer kinds (layer_types)"),
    ],
)  # fmt: skip
def test_without_the_extra_a_hidden_layout_is_refused_in_one_line(monkeypatch, config, shows):
    monkeypatch.setattr(ct, "available", lambda: False)
    with pytest.raises(ConfigError) as info:
        spec_from_config(config)
    message = str(info.value)
    assert "\n" not in message
    assert f"its config has {shows} that the generic formula cannot count" in message
    assert message.endswith("pip install 'llmmem[transformers]' to count it exactly, or give a parameter count like 70B")


def test_attention_only_layer_types_do_not_hide_anything(monkeypatch):
    monkeypatch.setattr(ct, "available", lambda: False)
    spec = spec_from_config({**GRANITE, "layer_types": ["sliding_attention", "full_attention"] * 20, "sliding_window": 4096})
    assert spec.parameters == GRANITE_COUNT and spec.approximate


def test_when_transformers_fails_the_reason_replaces_the_install_hint(monkeypatch):
    def failing(config, *, timeout=ct.TIME_LIMIT_S):
        raise ct.TransformersCountError("transformers could not build this model (boom): give a parameter count like 70B")

    monkeypatch.setattr(ct, "available", lambda: True)
    monkeypatch.setattr(ct, "count", failing)
    with pytest.raises(ConfigError, match=r"cannot count: transformers could not build this model \(boom\)"):
        spec_from_config(HIDDEN_MOE)
    assert spec_from_config(GRANITE).counted_by == COUNTED_GENERIC  # nothing hidden: the formula answers


def test_use_transformers_false_skips_it_even_when_installed(monkeypatch):
    monkeypatch.setattr(ct, "available", lambda: True)
    monkeypatch.setattr(ct, "count", lambda *a, **k: pytest.fail("transformers was asked"))
    assert spec_from_config(GRANITE, use_transformers=False).counted_by == COUNTED_GENERIC


def test_a_family_llmmem_knows_never_asks_transformers(monkeypatch):
    monkeypatch.setattr(ct, "count", lambda *a, **k: pytest.fail("transformers was asked"))
    spec = spec_from_config({**GRANITE, "model_type": "llama"}, use_transformers=True)
    assert spec.counted_by == "exact" and spec.parameters == GRANITE_COUNT


# ----------------------------------------------------------------------------- the child's answer


def test_child_answer_is_parsed():
    line = json.dumps({"parameters": 10, "class": "XForCausalLM", "version": "5.24.0", "groups": {"mlp": 7, "norms": 3}})
    counted = ct.parse_child_output(0, "some warning\n" + line + "\n", "")
    assert counted == ct.TransformersCount(10, "XForCausalLM", "5.24.0", {"mlp": 7, "norms": 3})


@pytest.mark.parametrize(
    "returncode, stdout, stderr, reason",
    [
        (1, json.dumps({"error": "transformers 5.24.0 does not know model_type 'nope'"}), "",
         "transformers 5.24.0 does not know model_type 'nope'"),
        (1, "", "Traceback (most recent call last):\nRuntimeError: out of luck\n", "RuntimeError: out of luck"),
        (0, "not json", "", "no output"),
    ],
)  # fmt: skip
def test_child_failure_is_one_line(returncode, stdout, stderr, reason):
    with pytest.raises(ct.TransformersCountError) as info:
        ct.parse_child_output(returncode, stdout, stderr)
    assert str(info.value) == f"transformers could not build this model ({reason}): give a parameter count like 70B"


def test_groups_that_do_not_add_up_are_refused():
    line = json.dumps({"parameters": 11, "class": "X", "version": "5", "groups": {"mlp": 7, "norms": 3}})
    with pytest.raises(ct.TransformersCountError, match="do not add up"):
        ct.parse_child_output(0, line, "")


def test_missing_extra_and_time_limit_are_one_line_errors(monkeypatch):
    monkeypatch.setattr(ct, "available", lambda: False)
    with pytest.raises(ct.TransformersCountError, match=r"pip install 'llmmem\[transformers\]'"):
        ct.count(GRANITE)

    def too_slow(*args, **kwargs):
        raise subprocess.TimeoutExpired(cmd="python", timeout=kwargs["timeout"])

    monkeypatch.setattr(ct, "available", lambda: True)
    monkeypatch.setattr(subprocess, "run", too_slow)
    with pytest.raises(ct.TransformersCountError, match="longer than 2 s"):
        ct.count(GRANITE, timeout=2)


@pytest.mark.parametrize(
    "name, key",
    [
        ("model.embed_tokens.weight", "embedding"),
        ("lm_head.weight", "lm_head"),
        ("model.layers.0.self_attn.q_proj.weight", "attention_qo"),
        ("model.layers.0.self_attn.k_proj.bias", "attention_kv"),
        ("model.layers.0.mlp.experts.gate_up_proj", "experts"),
        ("model.layers.0.mlp.shared_expert.up_proj.weight", "shared_experts"),
        ("model.layers.0.mlp.gate.weight", "router"),
        ("model.layers.0.mlp.down_proj.weight", "mlp"),
        ("model.layers.3.input_layernorm.weight", "norms"),
        ("backbone.layers.0.mixer.in_proj.weight", "ssm_proj"),
        ("backbone.layers.0.mixer.A_log", "ssm_other"),
        ("model.visual.blocks.0.attn.qkv.weight", "vision"),
        ("model.visual.merger.mlp.0.weight", "projector"),
        ("bert.encoder.layer.0.attention.output.dense.weight", "attention_qo"),
        ("bert.encoder.layer.0.output.dense.weight", "mlp"),
        ("encoder.block.0.layer.1.DenseReluDense.wi.weight", "mlp"),
        ("shared.weight", "embedding"),
        ("vit.embeddings.cls_token", "other"),
    ],
)
def test_parameter_names_go_to_breakdown_keys(name, key):
    assert ct.group_of(name) == key


def test_nothing_imports_torch():
    code = (
        "import sys, llmmem.architectures, llmmem.count_with_transformers, llmmem.spec, llmmem.state_mixers;"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------- live (torch + transformers)

live = pytest.mark.skipif(not ct.available(), reason="torch and transformers are not installed (the optional extra)")


@live
def test_live_counts_match_transformers():
    granite = spec_from_config(GRANITE, use_transformers=True)
    assert granite.parameters == GRANITE_COUNT and granite.counted_by == COUNTED_BY_TRANSFORMERS
    bert = {"model_type": "bert", "architectures": ["BertForMaskedLM"], "hidden_size": 768, "num_hidden_layers": 12,
            "num_attention_heads": 12, "intermediate_size": 3072, "vocab_size": 119547, "type_vocab_size": 2,
            "max_position_embeddings": 512}  # fmt: skip
    assert spec_from_config(bert, use_transformers=True).parameters == 177_974_523  # bert-base-multilingual-cased


def test_a_tower_llmmem_does_not_count_is_never_left_out_silently(monkeypatch):
    # a wrapper whose text model is a llama llmmem counts exactly, with a tower no module counts: no text-only answer
    llava = {"model_type": "newvlm", "text_config": {**GRANITE, "model_type": "llama"}, "vision_config": {"hidden_size": 1024}}
    monkeypatch.setattr(ct, "available", lambda: False)
    with pytest.raises(ConfigError) as info:
        spec_from_config(llava)
    assert str(info.value) == (
        "'newvlm' has a vision_config that llmmem does not count, and its text model alone would fall short:"
        " pip install 'llmmem[transformers]' to count it exactly, or give a parameter count like 70B"
    )
    monkeypatch.setattr(ct, "available", lambda: True)
    monkeypatch.setattr(ct, "count", fake_count(3_000, {"embedding": 1_000, "vision": 2_000}))
    spec = spec_from_config(llava)
    assert spec.parameters == 3_000 and spec.counted_by == COUNTED_BY_TRANSFORMERS and spec.part_totals["vision"] == 2_000


def test_a_deployment_can_switch_the_path_off(monkeypatch):
    monkeypatch.setattr(ct.importlib.util, "find_spec", lambda name: object())  # as if torch were installed
    assert ct.available() is True
    monkeypatch.setenv(ct.DISABLE_ENV, "0")
    assert ct.available() is False
    assert spec_from_config(GRANITE).counted_by == COUNTED_GENERIC


def test_one_child_at_a_time(monkeypatch):
    monkeypatch.setattr(ct, "available", lambda: True)
    assert ct._ONE_CHILD.acquire(timeout=1)  # another request holds the child
    try:
        with pytest.raises(ct.TransformersCountError, match="busy counting another model for longer than 0.2 s"):
            ct.count(GRANITE, timeout=0.2)
    finally:
        ct._ONE_CHILD.release()
