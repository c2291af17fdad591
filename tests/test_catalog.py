"""The bundled catalog: 60+ models, each count recomputed from its config, each with its sources."""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path

import pytest

from llmmem import catalog
from llmmem.architectures import spec_from_config
from llmmem.errors import ModelNotFoundError

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_COUNTS = ROOT / "tests" / "fixtures" / "param_counts.tsv"
ENTRIES = catalog.entries()


def test_catalog_holds_at_least_60_models_with_unique_ids():
    assert len(ENTRIES) >= 60
    ids = [entry.repo_id.lower() for entry in ENTRIES]
    assert len(ids) == len(set(ids))


def test_every_config_file_is_used_and_every_entry_has_one():
    files = {p.name for p in resources.files("llmmem.catalog").joinpath("configs").iterdir() if p.name.endswith(".json")}
    used = {entry.config_file for entry in ENTRIES}
    assert used == files


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.repo_id)
def test_count_in_the_table_is_what_the_config_gives(entry):
    """The table is not hand-typed: every count equals the exact count computed from its config."""
    spec = spec_from_config(catalog.load_config(entry), name=entry.repo_id)
    assert spec.parameters == entry.parameters
    assert not spec.approximate
    assert entry.config_source and entry.count_source
    if entry.shares_config:
        assert entry.note.startswith(f"same architecture as {entry.config_repo_id}")


def test_fixture_configs_keep_their_transformers_counts():
    with FIXTURE_COUNTS.open() as rows:
        fixture = {row["config"]: int(row["parameters"]) for row in csv.DictReader(rows, delimiter="\t")}
    own = {entry.config_file: entry.parameters for entry in ENTRIES if not entry.shares_config}
    differ = {name for name in fixture if _catalog_config(name) != _fixture_config(name)}
    assert {name: own[name] for name in fixture if name not in differ} == {n: c for n, c in fixture.items() if n not in differ}
    # NOTE: the one deliberate difference: the fixture's preset dropped DeepSeek-V2-Lite's
    # "q_lora_rank": null, so transformers falls back to a q LoRA of 1536 the real model lacks.
    assert differ == {"deepseek-ai__DeepSeek-V2-Lite.json"}
    assert _catalog_config("deepseek-ai__DeepSeek-V2-Lite.json") == {**_fixture_config("deepseek-ai__DeepSeek-V2-Lite.json"), "q_lora_rank": None}
    assert own["deepseek-ai__DeepSeek-V2-Lite.json"] == 15_706_484_224


def _catalog_config(name: str) -> dict:
    return json.loads((ROOT / "llmmem" / "catalog" / "configs" / name).read_text())


def _fixture_config(name: str) -> dict:
    return json.loads((ROOT / "tests" / "fixtures" / "configs" / name).read_text())


@pytest.mark.parametrize(("repo_id", "parameters"), [
    # published totals, for the families the issue names
    ("meta-llama/Llama-3.1-8B-Instruct", 8_030_261_248),
    ("meta-llama/Llama-3.3-70B-Instruct", 70_553_706_496),
    ("meta-llama/Llama-4-Scout-17B-16E-Instruct", 108_641_793_536),  # vision tower and projector included
    ("Qwen/Qwen3-235B-A22B", 235_093_634_560),
    ("mistralai/Mixtral-8x22B-v0.1", 140_620_634_112),
    ("openai/gpt-oss-120b", 116_829_156_672),
    ("deepseek-ai/DeepSeek-R1", 671_026_404_352),
    ("google/gemma-2-27b-it", 27_227_128_320),
])
def test_popular_families_are_there(repo_id, parameters):
    assert catalog.find(repo_id).parameters == parameters


def test_config_files_are_json_objects_with_a_model_type():
    for entry in {e.config_file: e for e in ENTRIES}.values():
        config = catalog.load_config(entry)
        assert isinstance(config, dict) and config.get("model_type"), entry.config_file


def test_lookup_is_case_insensitive_and_takes_bare_names():
    assert catalog.find("META-LLAMA/llama-3.1-8b").repo_id == "meta-llama/Llama-3.1-8B"
    assert catalog.find("  Llama-3.1-8B ").repo_id == "meta-llama/Llama-3.1-8B"
    assert catalog.find("gpt-oss-120b").repo_id == "openai/gpt-oss-120b"
    assert catalog.find("acme/Llama-3.1-8B") is None  # another owner is another model
    assert catalog.find("no-such-model") is None


def test_ambiguous_bare_name_raises_with_candidates():
    among = (catalog.CatalogEntry("org-a/Twin", "a.json"), catalog.CatalogEntry("org-b/Twin", "b.json"))
    with pytest.raises(ModelNotFoundError, match=r"^'Twin' names several catalog models \(org-a/Twin, org-b/Twin\): give the full ID$"):
        catalog.find("Twin", among=among)


def test_names_for_autocomplete():
    names = catalog.names()
    assert len(names) == len(ENTRIES)
    assert names == sorted(names, key=str.lower)
    assert "Qwen/Qwen2.5-7B-Instruct" in names


def test_suggestions_for_a_typo():
    assert catalog.suggestions("meta-llama/Llama-3.1-8")[0] == "meta-llama/Llama-3.1-8B"
    assert catalog.suggestions("zzzzzz") == []


def test_instruct_variant_shares_its_base_config():
    entry = catalog.find("Qwen/Qwen2.5-7B-Instruct")
    assert entry.shares_config and entry.config_repo_id == "Qwen/Qwen2.5-7B"
    assert catalog.load_config(entry) == json.loads(resources.files("llmmem.catalog").joinpath("configs", "Qwen__Qwen2.5-7B.json").read_text())


# The newer families (issue 10), from their published configs (tests/fixtures/configs_new); counts are
# transformers 5.24.0's on the meta device (text model for the multimodal Qwen3.5 until its tower is counted).
NEWER_FAMILIES = [
    ("HuggingFaceTB/SmolLM3-3B", 3_075_098_624, {"full_attention"}),
    ("MiniMaxAI/MiniMax-M2", 228_689_748_992, {"full_attention"}),
    ("Qwen/Qwen3-Next-80B-A3B-Instruct", 79_674_391_296, {"full_attention", "linear_attention"}),
    ("ai21labs/AI21-Jamba-1.5-Mini", 51_570_323_328, {"full_attention", "mamba"}),
    ("deepseek-ai/DeepSeek-V3.2", 671_877_929_216, {"full_attention"}),
    ("mistralai/Mamba-Codestral-7B-v0.1", 7_285_403_648, {"mamba"}),
    ("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", 31_577_937_344, {"full_attention", "mamba", "no_cache"}),
]


@pytest.mark.parametrize(("repo_id", "parameters", "kinds"), NEWER_FAMILIES, ids=[c[0] for c in NEWER_FAMILIES])
def test_newer_families_answer_offline(repo_id, parameters, kinds):
    from llmmem.resolve import resolve

    resolved = resolve(repo_id, offline=True)
    assert resolved.spec.parameters == parameters
    assert resolved.spec.counted_by == "exact"
    assert set(resolved.spec.layer_types) == kinds


def test_report_says_which_path_counted_and_what_is_left_out():
    from llmmem.report import estimate_request
    from llmmem.request import make_request

    report = estimate_request(make_request(model="Qwen/Qwen3-Next-80B-A3B-Instruct", offline=True)).to_dict()
    assert report["counted_by"] == "exact" and report["parts"] == {"text": 79_674_391_296}
    assert report["mtp"] == {"layers": 1, "parameters": 1_650_471_424}  # shipped, not built, not counted
    assert any(note.startswith("the checkpoint also ships 1 multi-token-prediction layer") for note in report["notes"])
    gemma = estimate_request(make_request(model="google/gemma-3-4b-it", offline=True)).to_dict()
    assert gemma["parts"] == {"text": 3_880_263_168, "vision": 416_866_032, "projector": 2_950_272}
    assert gemma["mtp"] is None and gemma["parameters"] == 4_300_079_472


def test_hub_checkpoint_with_mtp_layers_keeps_the_config_count():
    from llmmem.hub import HubModel, spec_from_hub

    config = catalog.load_config(catalog.find("Qwen/Qwen3-Next-80B-A3B-Instruct"))
    mtp = 1_650_471_424  # one full-attention MoE block, fc 2h -> h, three norms (vLLM qwen3_next_mtp.py)
    spec, notes = spec_from_hub(HubModel("Qwen/Qwen3-Next-80B-A3B-Instruct", None, "abc", config, {"BF16": 79_674_391_296 + mtp}))
    assert spec.parameters == 79_674_391_296 and "other" not in spec.breakdown
    assert notes[-1].startswith("the checkpoint's 81,324,862,720 parameters include 1 multi-token-prediction layer(s) (1,650,471,424)")
    # anything else the checkpoint holds beyond the config's model is still taken from the checkpoint
    spec, _ = spec_from_hub(HubModel("Qwen/Qwen3-Next-80B-A3B-Instruct", None, "abc", config, {"BF16": 79_674_391_296 + 3 * mtp}))
    assert spec.parameters == 79_674_391_296 + 3 * mtp
