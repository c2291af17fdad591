"""What the user typed -> a model reference: accepted forms, refused forms with their one-line messages.

Everything here runs before any network call: a refused input never reaches the Hub, and none of
these tests can (the network is blocked for the whole module).
"""

from __future__ import annotations

import sys

import pytest

from llmmem import catalog
from llmmem.errors import HubUnavailableError, InputError, ModelNotFoundError
from llmmem.hub import ModelRef, parse_model_ref
from llmmem.resolve import resolve

from fakehub import loopback_only


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    loopback_only(monkeypatch)
    monkeypatch.delenv("HF_TOKEN", raising=False)


ACCEPTED = [
    # text                                                                   repo_id                      revision
    ("meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-8B", None),
    ("  Qwen/Qwen2.5-7B-Instruct  ", "Qwen/Qwen2.5-7B-Instruct", None),
    ("Qwen/Qwen2.5-7B-Instruct@main", "Qwen/Qwen2.5-7B-Instruct", "main"),
    ("org/name@v1.0", "org/name", "v1.0"),
    ("org/name@refs/pr/12", "org/name", "refs/pr/12"),
    ("org/name@0123456789abcdef0123456789abcdef01234567", "org/name", "0123456789abcdef0123456789abcdef01234567"),
    ("Llama-3.1-8B", "Llama-3.1-8B", None),  # a bare name: catalog only
    ("https://huggingface.co/Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct", None),
    ("https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/", "Qwen/Qwen2.5-7B-Instruct", None),
    ("http://huggingface.co/Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct", None),
    ("https://www.huggingface.co/Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct", None),
    ("https://hf.co/Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct", None),
    ("HTTPS://HuggingFace.co/Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct", None),
    ("huggingface.co/Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct", None),
    ("https://huggingface.co/Qwen/Qwen2.5-7B-Instruct?library=transformers#usage", "Qwen/Qwen2.5-7B-Instruct", None),
    ("https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/tree/main", "Qwen/Qwen2.5-7B-Instruct", "main"),
    ("https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/tree/v2/subfolder", "Qwen/Qwen2.5-7B-Instruct", "v2"),
    ("https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/blob/main/config.json", "Qwen/Qwen2.5-7B-Instruct", "main"),
    ("https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/resolve/abc123/config.json?download=true", "Qwen/Qwen2.5-7B-Instruct", "abc123"),
    ("https://huggingface.co/org/name/tree/refs%2Fpr%2F3", "org/name", "refs/pr/3"),
    ("https://huggingface.co/org/name/commit/0123456789abcdef0123456789abcdef01234567", "org/name", "0123456789abcdef0123456789abcdef01234567"),
    ("https://huggingface.co/org/name/discussions/4", "org/name", None),
    ("https://huggingface.co/api/models/org/name", "org/name", None),
    ("https://huggingface.co/models/org/name", "org/name", None),
    ("a" * 96 + "/" + "b" * 96, "a" * 96 + "/" + "b" * 96, None),
    ("user_1/model.v2_final", "user_1/model.v2_final", None),
]


@pytest.mark.parametrize(("text", "repo_id", "revision"), ACCEPTED)
def test_accepted(text, repo_id, revision):
    assert parse_model_ref(text) == ModelRef(repo_id, revision)


REFUSED = [
    # text                                                  the message starts with / contains
    ("", "no model given: give a model ID"),
    ("   ", "no model given: give a model ID"),
    ("meta-llama/Llama 3.1 8B", "contains a space: model IDs have none"),
    ("meta-llama/Llama-3.1-8B\n", None),  # trailing whitespace is trimmed: accepted (see below)
    ("meta-llama/Llama\t3", "contains a control character"),
    ("meta-llama/Llama\x00", "contains a control character"),
    ("meta-llama/Llama\x1b[31m", "contains a control character"),
    ("../../etc/passwd", "is neither an existing file nor a model ID"),
    ("org/../name", "is neither an existing file nor a model ID"),
    ("org/na..me", "contains .., which model IDs cannot hold"),
    ("org/na--me", "contains --, which model IDs cannot hold"),
    ("org/-name", "is not a model ID: use letters, digits"),
    ("org/name.", "is not a model ID: use letters, digits"),
    ("org/na$me", "is not a model ID: use letters, digits"),
    ("org/", "has an empty owner or name"),
    ("/name", "has an empty owner or name"),
    ("a/b/c", "is neither an existing file nor a model ID (org/name)"),
    ("a" * 97 + "/name", "has a part of 97 characters, more than the Hub's 96"),
    ("x" * 3000, "is 3000 characters long, too long"),
    ("org/name@", "ends with '@' but names no revision"),
    ("org/name@../main", "has an invalid revision '../main'"),
    ("org/name@main/", "has an invalid revision 'main/'"),
    ("org/name@ma in", "contains a space"),
    ("org/name@" + "r" * 256, "has a revision of 256 characters"),
    ("https://huggingface.co/datasets/HuggingFaceFW/fineweb", "is a dataset URL, not a model"),
    ("https://huggingface.co/spaces/hf-accelerate/model-memory-usage", "is a Space URL, not a model"),
    ("https://hf.co/spaces/org/app/tree/main", "is a Space URL, not a model"),
    ("https://huggingface.co/meta-llama", "does not name a model (huggingface.co/org/name)"),
    ("https://huggingface.co/", "does not name a model"),
    ("https://github.com/meta-llama/llama", "is not a Hugging Face model URL"),
    ("https://huggingface.co.evil.com/org/name", "is not a Hugging Face model URL"),
    ("https://evil.com/huggingface.co/org/name", "is not a Hugging Face model URL"),
    ("https://huggingface.co:8443/org/name", "is not a Hugging Face model URL"),
    ("ftp://huggingface.co/org/name", "is not a Hugging Face model URL"),
    ("file:///etc/passwd", "is not a Hugging Face model URL"),
    ("https://huggingface.co/org/na%20me", "contains a space"),
    ("https://huggingface.co/org/..%2F..%2Fname", "contains .., which model IDs cannot hold"),
    ("https://huggingface.co/org/name/tree/..%2Fx", "has an invalid revision '../x'"),
]


@pytest.mark.parametrize(("text", "message"), [case for case in REFUSED if case[1]])
def test_refused_with_one_clear_line(text, message):
    with pytest.raises(InputError) as error:
        parse_model_ref(text)
    assert message in str(error.value)
    assert "\n" not in str(error.value) and len(str(error.value)) < 300


def test_surrounding_whitespace_is_trimmed():
    assert parse_model_ref("meta-llama/Llama-3.1-8B\n") == ModelRef("meta-llama/Llama-3.1-8B")


def test_revision_argument_and_conflicts():
    assert parse_model_ref("org/name", revision="v2") == ModelRef("org/name", "v2")
    assert parse_model_ref("org/name@v2", revision="v2") == ModelRef("org/name", "v2")
    with pytest.raises(InputError, match="names revision 'v1' but 'v2' was also asked: give one revision"):
        parse_model_ref("org/name@v1", revision="v2")


def test_refused_input_never_imports_huggingface_hub_or_asks_the_hub(monkeypatch):
    # NOTE: a sentinel in sys.modules makes any `import huggingface_hub` fail loudly
    for name in [m for m in sys.modules if m == "huggingface_hub" or m.startswith("huggingface_hub.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    for text in ("org/na me", "https://huggingface.co/datasets/x/y", "org/name@../x", "a/b/c"):
        with pytest.raises(InputError):
            resolve(text)
    # the catalog and offline paths need no huggingface_hub either
    assert resolve("Llama-3.1-8B").source == "catalog"
    assert resolve("meta-llama/Llama-3.1-8B", offline=True).source == "catalog"


# --- resolve(): catalog names and offline ------------------------------------------------------------


def test_bare_catalog_name_any_case():
    resolved = resolve("llama-3.1-8b")
    assert (resolved.source, resolved.spec.name, resolved.spec.parameters) == ("catalog", "meta-llama/Llama-3.1-8B", 8_030_261_248)


def test_url_of_a_catalog_model_offline():
    resolved = resolve("https://huggingface.co/Qwen/Qwen2.5-7B/blob/main/config.json", offline=True)
    assert (resolved.source, resolved.spec.parameters) == ("catalog", 7_615_616_512)
    assert resolved.notes == ("offline mode: showing the bundled entry (revision main not checked)",)


def test_unknown_bare_name_suggests_close_catalog_names():
    with pytest.raises(ModelNotFoundError) as error:
        resolve("Llama-3.1-8")
    assert str(error.value).startswith("'Llama-3.1-8' is not in the bundled catalog (did you mean meta-llama/Llama-3.1-8B")
    assert str(error.value).endswith("give the full Hub ID (org/name), a config.json or a count like 70B")


def test_offline_model_outside_the_catalog():
    with pytest.raises(HubUnavailableError, match=r"^offline mode, and acme/Unknown-9B is not in the bundled catalog: go online, or give its config.json or a count like 70B$"):
        resolve("acme/Unknown-9B", offline=True)


def test_ambiguous_bare_name_lists_the_candidates():
    among = (catalog.CatalogEntry("a/Same-7B", "x.json"), catalog.CatalogEntry("b/Same-7B", "y.json"), catalog.CatalogEntry("c/Other", "z.json"))
    with pytest.raises(ModelNotFoundError, match=r"^'same-7b' names several catalog models \(a/Same-7B, b/Same-7B\): give the full ID$"):
        catalog.find("same-7b", among=among)
    assert catalog.find("B/same-7b", among=among).repo_id == "b/Same-7B"


def test_parameter_counts_and_files_still_come_first(tmp_path):
    assert resolve("70B").source == "parameter-count"
    (tmp_path / "config.json").write_text(catalog.find("gpt2").config_file and '{"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257, "n_positions": 1024}')
    resolved = resolve(str(tmp_path))
    assert (resolved.source, resolved.spec.parameters) == ("config", 124_439_808)


def test_prefer_catalog_answers_a_catalog_id_without_the_hub(monkeypatch):
    from llmmem import hub

    def no_network(*args, **kwargs):
        raise AssertionError("the Hub was asked")

    monkeypatch.setattr(hub, "fetch", no_network)
    resolved = resolve("meta-llama/Llama-3.1-8B", prefer_catalog=True)
    assert (resolved.source, resolved.spec.parameters, resolved.notes) == ("catalog", 8_030_261_248, ())
